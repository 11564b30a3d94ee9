import Testing
@testable import TandemCodecs

@Suite struct AES256GCMTests {
    static let key = SecretKey(bytes: unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"))

    /// McGrew–Viega GCM spec test case 16 (AES-256, 96-bit IV, with AAD).
    @Test func knownAnswerTestCase16() throws {
        let cipher = try AES256GCMCipher(key: Self.key)
        let nonce = unhex("cafebabefacedbaddecaf888")
        let pt = unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
            + "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
        let aad = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
        let sealed = try cipher.seal(pt, associatedData: aad, nonce: nonce)
        let expectedCT = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
            + "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
        #expect(hex(sealed) == hex(nonce) + expectedCT + "76fc6ece0f4e1768cddf8853bb2d551b")
        #expect(try cipher.open(sealed, associatedData: aad) == pt)
    }

    /// Test case 14: all-zero key, IV and one zero block, no AAD.
    @Test func knownAnswerTestCase14() throws {
        let cipher = try AES256GCMCipher(key: SecretKey(bytes: [UInt8](repeating: 0, count: 32)))
        let sealed = try cipher.seal([UInt8](repeating: 0, count: 16), associatedData: [], nonce: [UInt8](repeating: 0, count: 12))
        #expect(hex(Array(sealed.dropFirst(12))) == "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919")
    }

    @Test func sealAfterPrefixOpensAsUsual() throws {
        let cipher = try AES256GCMCipher(key: Self.key)
        let prefix: [UInt8] = Array("TNDMHEAD".utf8)
        for size in [0, 1, 100_000] {
            let plain = [UInt8](repeating: 0x5A, count: size)
            let sealed = try plain.withUnsafeBytes { try cipher.seal($0, associatedData: prefix, after: prefix) }
            #expect(Array(sealed.prefix(prefix.count)) == prefix)
            #expect(sealed.count == prefix.count + AES256GCMCipher.overhead + size)
            #expect(try cipher.open(Array(sealed.dropFirst(prefix.count)), associatedData: prefix) == plain)
            #expect(throws: CodecError.self) { try cipher.open(Array(sealed.dropFirst(prefix.count)), associatedData: []) }
        }
    }

    @Test func roundTripsVariousSizes() throws {
        let cipher = try AES256GCMCipher(key: SecretKey.random(count: 32))
        var rng = SeededRNG(seed: 1)
        for size in [0, 1, 15, 16, 17, 255, 4096, 65_537, 1 << 20] {
            let pt = rng.bytes(size)
            let aad = rng.bytes(size % 40)
            let sealed = try cipher.seal(pt, associatedData: aad)
            #expect(sealed.count == size + AES256GCMCipher.overhead)
            #expect(AES256GCMCipher.overhead == 28)
            #expect(try cipher.open(sealed, associatedData: aad) == pt)
        }
    }

    @Test func sixteenMiBRoundTrip() throws {
        let cipher = try AES256GCMCipher(key: SecretKey.random(count: 32))
        let pt = SeededRNG(seed: 2).bytesCopy(16 << 20)
        let sealed = try cipher.seal(pt)
        #expect(try cipher.open(sealed) == pt)
    }

    @Test func noncesAreFreshPerMessage() throws {
        let cipher = try AES256GCMCipher(key: SecretKey.random(count: 32))
        let a = try cipher.seal(utf8("same"))
        let b = try cipher.seal(utf8("same"))
        #expect(a.prefix(12) != b.prefix(12))
        #expect(a != b)
    }

    @Test func tamperingAnyByteIsDetected() throws {
        let cipher = try AES256GCMCipher(key: SecretKey.random(count: 32))
        let aad = utf8("chunk-id:42")
        let sealed = try cipher.seal(utf8("a small secret message"), associatedData: aad)
        for i in 0..<sealed.count {
            for flip: UInt8 in [0x01, 0x80] {
                var bad = sealed
                bad[i] ^= flip
                #expect(throws: CodecError.authenticationFailed) { try cipher.open(bad, associatedData: aad) }
            }
        }
        // The reused context still works after many failures.
        #expect(try cipher.open(sealed, associatedData: aad) == utf8("a small secret message"))
    }

    @Test func wrongAssociatedDataOrKeyIsRejected() throws {
        let cipher = try AES256GCMCipher(key: SecretKey.random(count: 32))
        let sealed = try cipher.seal(utf8("payload"), associatedData: utf8("A"))
        #expect(throws: CodecError.authenticationFailed) { try cipher.open(sealed, associatedData: utf8("B")) }
        #expect(throws: CodecError.authenticationFailed) { try cipher.open(sealed, associatedData: []) }
        let other = try AES256GCMCipher(key: SecretKey.random(count: 32))
        #expect(throws: CodecError.authenticationFailed) { try other.open(sealed, associatedData: utf8("A")) }
    }

    @Test func truncatedInputIsRejected() throws {
        let cipher = try AES256GCMCipher(key: SecretKey.random(count: 32))
        let sealed = try cipher.seal(utf8("payload bytes"), associatedData: [])
        for len in 0..<AES256GCMCipher.overhead {
            #expect(throws: CodecError.truncatedInput("AES-256-GCM message is \(len) bytes, minimum 28")) {
                try cipher.open(Array(sealed.prefix(len)), associatedData: [])
            }
        }
        for len in AES256GCMCipher.overhead..<sealed.count {
            #expect(throws: CodecError.authenticationFailed) { try cipher.open(Array(sealed.prefix(len)), associatedData: []) }
        }
    }

    @Test func rejectsWrongKeyLength() {
        #expect(throws: CodecError.invalidKeyLength(expected: 32, got: 16)) {
            try AES256GCMCipher(key: SecretKey.random(count: 16))
        }
    }

    @Test func usableThroughProtocol() throws {
        let ciphers: [any AEADCipher] = [
            try AES256GCMCipher(key: SecretKey.random(count: 32)),
            try SM4CTRHMACSM3Cipher(encryptionKey: SecretKey.random(count: 16), macKey: SecretKey.random(count: 32)),
        ]
        for c in ciphers {
            let sealed = try c.seal(utf8("hello"), associatedData: utf8("ad"))
            #expect(sealed.count == 5 + type(of: c).overhead)
            #expect(try c.open(sealed, associatedData: utf8("ad")) == utf8("hello"))
        }
    }
}

extension SeededRNG {
    /// Convenience for a one-off buffer from a fresh generator value.
    func bytesCopy(_ count: Int) -> [UInt8] {
        var copy = self
        return copy.bytes(count)
    }
}
