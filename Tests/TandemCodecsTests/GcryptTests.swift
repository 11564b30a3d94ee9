import Testing
@testable import TandemCodecs

/// SM4, SM3 and HMAC-SM3 through libgcrypt: the standards' vectors, and agreement with
/// OpenSSL's implementations on random inputs of every awkward length.
@Suite struct GcryptTests {
    static let gbKey = unhex("0123456789abcdeffedcba9876543210")

    @Test func libraryIsRecentEnough() {
        #expect(Gcrypt.version != nil, "libgcrypt older than \(Gcrypt.minimumVersion)")
    }

    /// GB/T 32905-2016 appendix A, examples 1 and 2.
    @Test func sm3Examples() throws {
        let sm3 = try GcryptSM3()
        #expect(hex(sm3.hash(utf8("abc"))) == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
        #expect(hex(sm3.hash(utf8(String(repeating: "abcd", count: 16)))) == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")
        // The handle is reset after each digest, and streaming gives the same answer.
        for part in [utf8("a"), utf8("b"), utf8("c")] { part.withUnsafeBytes { sm3.update($0) } }
        #expect(hex(sm3.finish()) == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    }

    /// GB/T 32907-2016 appendix A: one block, and the same block encrypted 1,000,000 times.
    @Test func sm4Examples() throws {
        let sm4 = try GcryptSM4(key: SecretKey(bytes: Self.gbKey), mode: .ecb)
        var block = Self.gbKey
        block = try sm4.encryptECB(block)
        #expect(hex(block) == "681edf34d206965e86b3e94f536e4246")
        for _ in 1..<1_000_000 { block = try sm4.encryptECB(block) }
        #expect(hex(block) == "595298c7c6fd271f0402f804c33d3f66")
    }

    /// RFC 8998 appendix A.1 (SM4-GCM, the construction of GB/T 36624 used by TLS 1.3).
    @Test func sm4GCMExample() throws {
        let gcm = try GcryptSM4(key: SecretKey(bytes: Self.gbKey), mode: .gcm)
        let nonce = unhex("00001234567800000000ABCD")
        let aad = unhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
        let plain = unhex("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDDEEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA")
        let sealed = try plain.withUnsafeBytes { try gcm.sealGCM($0, nonce: nonce, associatedData: aad) }
        #expect(hex(sealed) == ("17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735D82710CA5C22F0CCFA7CBF93D496AC15"
                                + "A56834CBCF98C397B4024A2691233B8D" + "83DE3541E4C2B58177E065A9BF7B62EC").lowercased())
        #expect(try sealed.withUnsafeBytes { try gcm.openGCM($0, nonce: nonce, associatedData: aad) } == plain)
        // A flipped bit anywhere (ciphertext, tag, associated data) is refused.
        for index in [0, sealed.count / 2, sealed.count - 1] {
            var bad = sealed
            bad[index] ^= 0x01
            #expect(throws: CodecError.authenticationFailed) { _ = try bad.withUnsafeBytes { try gcm.openGCM($0, nonce: nonce, associatedData: aad) } }
        }
        var badAAD = aad
        badAAD[3] ^= 0x80
        #expect(throws: CodecError.authenticationFailed) { _ = try sealed.withUnsafeBytes { try gcm.openGCM($0, nonce: nonce, associatedData: badAAD) } }
    }

    /// libgcrypt and OpenSSL agree on SM3, HMAC-SM3, SM4-CTR and the whole SM4-CTR + HMAC-SM3
    /// construction for random inputs, keys and lengths around the block sizes (16 and 64
    /// bytes) and the 16-block batches libgcrypt's AVX2 code works in.
    @Test func agreesWithOpenSSL() throws {
        var random = SeededRNG(seed: 8998)
        let lengths = [0, 1, 15, 16, 17, 55, 56, 63, 64, 65, 255, 256, 257, 1000, 4096, 65536 + 3] + (0..<40).map { _ in Int(random.next() % 20000) }
        for length in lengths {
            let message = random.bytes(length)
            let ours = Hasher256(.sm3)
            #expect(ours.library == .libgcrypt)
            message.withUnsafeBytes { ours.update($0) }
            let reference = Hasher256(.sm3, library: .openssl)
            message.withUnsafeBytes { reference.update($0) }
            #expect(ours.finalize() == reference.finalize(), "SM3 of \(length) bytes")
            #expect(try GcryptSM3().hash(message) == Hasher256.hash(.sm3, message), "SM3 of \(length) bytes")
            let macKey = SecretKey(bytes: random.bytes(1 + Int(random.next() % 100)))
            let mac = message.withUnsafeBytes { KeyedHash(.sm3, key: macKey, library: .openssl).mac($0) }
            #expect(message.withUnsafeBytes { KeyedHash(.sm3, key: macKey).mac($0) } == mac, "HMAC-SM3 of \(length) bytes")
            #expect(try GcryptSM3(key: macKey).hash(message) == mac, "HMAC-SM3 of \(length) bytes")
            let key = random.bytes(16), counter = random.bytes(16)
            let openssl = try SM4CTRHMACSM3Cipher(encryptionKey: SecretKey(bytes: key), macKey: macKey.resized(32), library: .openssl)
            let gcrypt = try SM4CTRHMACSM3Cipher(encryptionKey: SecretKey(bytes: key), macKey: macKey.resized(32))
            #expect(gcrypt.library == .libgcrypt)
            let ctr = try message.withUnsafeBytes { try GcryptSM4(key: SecretKey(bytes: key), mode: .ctr).ctr($0, counter: counter) }
            #expect(try ctr == openssl.ctrTransform(iv: counter, message), "SM4-CTR of \(length) bytes")
            // The construction: the same bytes for the same IV, and each opens the other's.
            let aad = random.bytes(Int(random.next() % 40))
            let sealed = try gcrypt.seal(message, associatedData: aad, iv: counter)
            #expect(try sealed == openssl.seal(message, associatedData: aad, iv: counter), "SM4-CTR+HMAC-SM3 of \(length) bytes")
            #expect(try openssl.open(gcrypt.seal(message, associatedData: aad), associatedData: aad) == message)
            #expect(try gcrypt.open(openssl.seal(message, associatedData: aad), associatedData: aad) == message)
        }
        // A counter that wraps its low 64 bits carries into the high ones alike in both.
        let wrapping = unhex("000102030405060708ffffffffffffff")
        let message = random.bytes(1000)
        let openssl = try SM4CTRHMACSM3Cipher(encryptionKey: SecretKey(bytes: Self.gbKey), macKey: SecretKey.random(count: 32), library: .openssl)
        #expect(try message.withUnsafeBytes { try GcryptSM4(key: SecretKey(bytes: Self.gbKey), mode: .ctr).ctr($0, counter: wrapping) }
                == openssl.ctrTransform(iv: wrapping, message))
    }

    /// HKDF-SM3 over libgcrypt's HMAC (RFC 5869's two steps written out) equals OpenSSL's
    /// `EVP_KDF` HKDF with SM3, for random keys, salts (empty included), infos and lengths up to
    /// the maximum; and the same code over SHA-256 passes RFC 5869 case 1.
    @Test func hkdfOverLibgcryptAgreesWithOpenSSL() throws {
        var random = SeededRNG(seed: 5869)
        for round in 0..<60 {
            let ikm = SecretKey(bytes: random.bytes(1 + Int(random.next() % 80)))
            let salt = round % 5 == 0 ? [] : random.bytes(Int(random.next() % 100))
            let info = random.bytes(Int(random.next() % 60))
            let count = round == 0 ? 255 * 32 : 1 + Int(random.next() % 200)
            let ours = try HKDF.derive(algorithm: .sm3, inputKey: ikm, salt: salt, info: info, count: count)
            let theirs = try HKDF.derive(algorithm: .sm3, inputKey: ikm, salt: salt, info: info, count: count, library: .openssl)
            #expect(ours.withUnsafeBytes { Array($0) } == theirs.withUnsafeBytes { Array($0) }, "round \(round), \(count) bytes")
        }
        let okm = try HKDF.overHMAC(.sha256, inputKey: SecretKey(bytes: unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b")),
                                    salt: unhex("000102030405060708090a0b0c"), info: unhex("f0f1f2f3f4f5f6f7f8f9"), count: 42, library: .openssl)
        #expect(okm.withUnsafeBytes { hex(Array($0)) } == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    }

    /// PBKDF2 through libgcrypt: RFC 7914 section 11's PBKDF2-HMAC-SHA-256 vector, and
    /// PBKDF2-HMAC-SM3 equal to OpenSSL's `PKCS5_PBKDF2_HMAC` with SM3 for random inputs.
    @Test func pbkdf2AgreesWithTheRFCAndOpenSSL() throws {
        for library in CryptoLibrary.allCases {
            let key = try PBKDF2.derive(algorithm: .sha256, passphrase: utf8("passwd"), salt: utf8("salt"), iterations: 1, count: 64, library: library)
            #expect(key.withUnsafeBytes { hex(Array($0)) } == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783", "\(library)")
        }
        var random = SeededRNG(seed: 8018)
        for round in 0..<20 {
            let passphrase = random.bytes(1 + Int(random.next() % 70)), salt = random.bytes(1 + Int(random.next() % 40))
            let iterations = UInt64(1 + random.next() % 3000), count = 1 + Int(random.next() % 100)
            let ours = try PBKDF2.derive(algorithm: .sm3, passphrase: passphrase, salt: salt, iterations: iterations, count: count)
            let theirs = try PBKDF2.derive(algorithm: .sm3, passphrase: passphrase, salt: salt, iterations: iterations, count: count, library: .openssl)
            #expect(ours.withUnsafeBytes { Array($0) } == theirs.withUnsafeBytes { Array($0) }, "round \(round)")
        }
        #expect(throws: CodecError.self) { try PBKDF2.derive(algorithm: .sm3, passphrase: [], salt: [1], iterations: 10, count: 16) }
        #expect(throws: CodecError.self) { try PBKDF2.derive(algorithm: .sm3, passphrase: [1], salt: [1], iterations: 0, count: 16) }
        #expect(throws: CodecError.self) { try PBKDF2.derive(algorithm: .sm3, passphrase: [1], salt: [], iterations: 10, count: 16) }
    }

    /// The SM4-GCM suite's cipher: RFC 8998's vector through the cipher's layout, its
    /// ciphertext equal to OpenSSL's SM4-CTR from GCM's first counter block, round trips of
    /// every awkward length, and a flipped bit in nonce, ciphertext, tag or associated data
    /// refused with nothing returned.
    @Test func sm4GCMCipher() throws {
        var random = SeededRNG(seed: 36624)
        let key = random.bytes(16)
        let cipher = try SM4GCMCipher(key: SecretKey(bytes: key))
        #expect(SM4GCMCipher.overhead == 28)
        let reference = try SM4CTRHMACSM3Cipher(encryptionKey: SecretKey(bytes: key), macKey: SecretKey.random(count: 32), library: .openssl)
        for length in [0, 1, 15, 16, 17, 255, 256, 257, 4095, 65536 + 5] + (0..<20).map({ _ in Int(random.next() % 100_000) }) {
            let plain = random.bytes(length), aad = random.bytes(Int(random.next() % 50))
            let sealed = try cipher.seal(plain, associatedData: aad)
            #expect(sealed.count == plain.count + 28)
            #expect(try cipher.open(sealed, associatedData: aad) == plain, "\(length) bytes")
            // GCM encrypts with CTR from J0 + 1 = nonce || 00000002.
            let counter = Array(sealed[0..<12]) + [0, 0, 0, 2]
            #expect(try reference.ctrTransform(iv: counter, Array(sealed[12..<(12 + length)])) == plain, "\(length) bytes")
            guard length > 0, length % 7 == 0 || length < 300 else { continue }
            for index in [0, 11, 12, 12 + length / 2, sealed.count - 16, sealed.count - 1] {
                var bad = sealed
                bad[index] ^= 0x10
                #expect(throws: CodecError.authenticationFailed) { try cipher.open(bad, associatedData: aad) }
            }
            #expect(throws: CodecError.authenticationFailed) { try cipher.open(sealed, associatedData: aad + [0]) }
        }
        #expect(throws: CodecError.self) { try cipher.open([UInt8](repeating: 0, count: 27), associatedData: []) }
        #expect(throws: CodecError.invalidKeyLength(expected: 16, got: 32)) { try SM4GCMCipher(key: SecretKey.random(count: 32)) }
    }
}

extension SecretKey {
    /// The first `count` bytes, repeated as needed.
    func resized(_ count: Int) -> SecretKey {
        withUnsafeBytes { raw in SecretKey(bytes: (0..<count).map { raw[$0 % raw.count] }) }
    }
}
