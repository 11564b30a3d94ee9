import Testing
@testable import TandemCodecs

@Suite struct SM4CipherTests {
    static let gbKey = unhex("0123456789abcdeffedcba9876543210")

    static func makeCipher() throws -> SM4CTRHMACSM3Cipher {
        try SM4CTRHMACSM3Cipher(encryptionKey: SecretKey.random(count: 16), macKey: SecretKey.random(count: 32))
    }

    /// Sealed behind a prefix, the body opens like any sealed message; the prefix is just copied.
    @Test func sealAfterPrefixOpensAsUsual() throws {
        let cipher = try Self.makeCipher()
        let prefix: [UInt8] = Array("TNDMHEAD".utf8)
        let plain = Array("a manifest body".utf8)
        let sealed = try plain.withUnsafeBytes { try cipher.seal($0, associatedData: prefix, after: prefix) }
        #expect(Array(sealed.prefix(prefix.count)) == prefix)
        #expect(sealed.count == prefix.count + SM4CTRHMACSM3Cipher.overhead + plain.count)
        #expect(try cipher.open(Array(sealed.dropFirst(prefix.count)), associatedData: prefix) == plain)
        #expect(throws: CodecError.self) { try cipher.open(Array(sealed.dropFirst(prefix.count)), associatedData: []) }
    }

    /// GB/T 32907-2016 example 1, single-block ECB.
    @Test func gbt32907BlockVector() throws {
        let ct = try SM4CTRHMACSM3Cipher.encryptBlockECB(key: Self.gbKey, block: Self.gbKey)
        #expect(hex(ct) == "681edf34d206965e86b3e94f536e4246")
    }

    /// CTR keystream block 0 is E_K(IV): encrypting a zero block with IV = P
    /// must yield the GB/T 32907 ciphertext through the real CTR path.
    @Test func ctrKeystreamMatchesBlockVector() throws {
        let cipher = try SM4CTRHMACSM3Cipher(encryptionKey: SecretKey(bytes: Self.gbKey), macKey: SecretKey.random(count: 32))
        let ks = try cipher.ctrTransform(iv: Self.gbKey, [UInt8](repeating: 0, count: 16))
        #expect(hex(ks) == "681edf34d206965e86b3e94f536e4246")
    }

    /// Full construction with a fixed IV, checked against the OpenSSL CLI:
    /// `openssl enc -sm4-ctr -K 000102…0f -iv f0f1…ff` and
    /// `openssl mac -digest SM3 -macopt hexkey:2021…3f HMAC` over
    /// u64be(3) || "hdr" || iv || ciphertext.
    @Test func fixedIVVectorMatchesOpenSSLCLI() throws {
        let cipher = try SM4CTRHMACSM3Cipher(
            encryptionKey: SecretKey(bytes: unhex("000102030405060708090a0b0c0d0e0f")),
            macKey: SecretKey(bytes: unhex("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f")))
        let iv = unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
        let pt = utf8("Tandem SM4 vector: 37 bytes long!!")
        let sealed = try cipher.seal(pt, associatedData: utf8("hdr"), iv: iv)
        #expect(hex(sealed) == hex(iv)
            + "1a1f4726841ef3c0fbbbb0a20636275404f554866f62a4f85d0092427b4f8a5d1ea2"
            + "90eb4b27fbbb78934ad9154cf62ef16e198f2581c260c84eb6f4aed195bad6c3")
        #expect(try cipher.open(sealed, associatedData: utf8("hdr")) == pt)
    }

    @Test func roundTripsVariousSizes() throws {
        let cipher = try Self.makeCipher()
        var rng = SeededRNG(seed: 3)
        for size in [0, 1, 15, 16, 17, 1000, 65_536, (1 << 20) + 3] {
            let pt = rng.bytes(size)
            let aad = rng.bytes(size % 33)
            let sealed = try cipher.seal(pt, associatedData: aad)
            #expect(sealed.count == size + 48)
            #expect(try cipher.open(sealed, associatedData: aad) == pt)
        }
        #expect(SM4CTRHMACSM3Cipher.overhead == 48)
    }

    @Test func tamperingAnyByteIsDetectedBeforeDecrypting() throws {
        let cipher = try Self.makeCipher()
        let aad = utf8("meta")
        let pt = utf8("sm-suite secret payload")
        let sealed = try cipher.seal(pt, associatedData: aad)
        let before = cipher.decryptionCount
        for i in 0..<sealed.count {
            for flip: UInt8 in [0x01, 0x80] {
                var bad = sealed
                bad[i] ^= flip
                #expect(throws: CodecError.authenticationFailed) { try cipher.open(bad, associatedData: aad) }
            }
        }
        #expect(cipher.decryptionCount == before, "a forged message reached the decryption step")
        #expect(try cipher.open(sealed, associatedData: aad) == pt)
        #expect(cipher.decryptionCount == before + 1)
    }

    @Test func associatedDataIsBoundWithItsLength() throws {
        let cipher = try Self.makeCipher()
        let sealed = try cipher.seal(utf8("x"), associatedData: utf8("ab"))
        #expect(throws: CodecError.authenticationFailed) { try cipher.open(sealed, associatedData: utf8("abc")) }
        #expect(throws: CodecError.authenticationFailed) { try cipher.open(sealed, associatedData: []) }
        let empty = try cipher.seal([], associatedData: [])
        #expect(throws: CodecError.authenticationFailed) { try cipher.open(empty, associatedData: [0]) }
        #expect(try cipher.open(empty, associatedData: []) == [])
    }

    @Test func truncatedInputIsRejected() throws {
        let cipher = try Self.makeCipher()
        let sealed = try cipher.seal(utf8("payload"), associatedData: [])
        for len in 0..<48 {
            #expect(throws: CodecError.self) { try cipher.open(Array(sealed.prefix(len)), associatedData: []) }
        }
        #expect(throws: CodecError.truncatedInput("SM4-CTR+HMAC-SM3 message is 47 bytes, minimum 48")) {
            try cipher.open(Array(sealed.prefix(47)), associatedData: [])
        }
        for len in 48..<sealed.count {
            #expect(throws: CodecError.authenticationFailed) { try cipher.open(Array(sealed.prefix(len)), associatedData: []) }
        }
    }

    @Test func wrongKeysAreRejected() throws {
        let enc = SecretKey.random(count: 16)
        let a = try SM4CTRHMACSM3Cipher(encryptionKey: enc, macKey: SecretKey.random(count: 32))
        let b = try SM4CTRHMACSM3Cipher(encryptionKey: enc, macKey: SecretKey.random(count: 32))
        let sealed = try a.seal(utf8("data"), associatedData: [])
        #expect(throws: CodecError.authenticationFailed) { try b.open(sealed, associatedData: []) }
    }

    @Test func rejectsWrongKeyLengths() {
        #expect(throws: CodecError.invalidKeyLength(expected: 16, got: 32)) {
            try SM4CTRHMACSM3Cipher(encryptionKey: SecretKey.random(count: 32), macKey: SecretKey.random(count: 32))
        }
        #expect(throws: CodecError.invalidKeyLength(expected: 32, got: 16)) {
            try SM4CTRHMACSM3Cipher(encryptionKey: SecretKey.random(count: 16), macKey: SecretKey.random(count: 16))
        }
    }
}
