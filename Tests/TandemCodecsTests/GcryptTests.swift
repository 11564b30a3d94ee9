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

    /// libgcrypt and OpenSSL agree on SM3, HMAC-SM3 and SM4-CTR for random inputs, keys and
    /// lengths around the block sizes (16 and 64 bytes) and the 16-block batches libgcrypt's
    /// AVX2 code works in.
    @Test func agreesWithOpenSSL() throws {
        var random = SeededRNG(seed: 8998)
        let lengths = [0, 1, 15, 16, 17, 55, 56, 63, 64, 65, 255, 256, 257, 1000, 4096, 65536 + 3] + (0..<40).map { _ in Int(random.next() % 20000) }
        for length in lengths {
            let message = random.bytes(length)
            #expect(try GcryptSM3().hash(message) == Hasher256.hash(.sm3, message), "SM3 of \(length) bytes")
            let macKey = SecretKey(bytes: random.bytes(1 + Int(random.next() % 100)))
            let mac = message.withUnsafeBytes { KeyedHash(.sm3, key: macKey).mac($0) }
            #expect(try GcryptSM3(key: macKey).hash(message) == mac, "HMAC-SM3 of \(length) bytes")
            let key = random.bytes(16), counter = random.bytes(16)
            let openssl = try SM4CTRHMACSM3Cipher(encryptionKey: SecretKey(bytes: key), macKey: SecretKey.random(count: 32))
            let ours = try message.withUnsafeBytes { try GcryptSM4(key: SecretKey(bytes: key), mode: .ctr).ctr($0, counter: counter) }
            #expect(try ours == openssl.ctrTransform(iv: counter, message), "SM4-CTR of \(length) bytes")
        }
        // A counter that wraps its low 64 bits carries into the high ones alike in both.
        let wrapping = unhex("000102030405060708ffffffffffffff")
        let message = random.bytes(1000)
        let openssl = try SM4CTRHMACSM3Cipher(encryptionKey: SecretKey(bytes: Self.gbKey), macKey: SecretKey.random(count: 32))
        #expect(try message.withUnsafeBytes { try GcryptSM4(key: SecretKey(bytes: Self.gbKey), mode: .ctr).ctr($0, counter: wrapping) }
                == openssl.ctrTransform(iv: wrapping, message))
    }
}
