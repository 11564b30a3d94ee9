import Foundation
import Testing
import TandemCodecs
import TandemCore

@Suite struct KeySlotTests {
    @Test(arguments: CryptoSuite.allCases)
    func passphraseSlotUnwrapsOnlyWithItsPassphrase(suite: CryptoSuite) throws {
        let master = SecretKey.random(count: 32)
        let slot = try KeyWrapping.wrap(master: master, secret: .passphrase(Array("correct horse".utf8)), suite: suite,
                                        tenant: "acme", createdAt: Date(timeIntervalSince1970: 0))
        let opened = try KeyWrapping.unwrap(slot: slot, secret: .passphrase(Array("correct horse".utf8)), suite: suite, tenant: "acme")
        #expect(opened.constantTimeEquals(master))
        #expect(throws: KeySlotError.wrongKey) {
            try KeyWrapping.unwrap(slot: slot, secret: .passphrase(Array("wrong".utf8)), suite: suite, tenant: "acme")
        }
        #expect(throws: KeySlotError.wrongKey) {
            try KeyWrapping.unwrap(slot: slot, secret: .passphrase(Array("correct horse".utf8)), suite: suite, tenant: "other")
        }
        #expect(!slot.wrappedKey.contains(master.withUnsafeBytes { Hex.encode($0) }))
    }

    /// An SM4-GCM tenant's passphrase slot rests on GM primitives alone: PBKDF2-HMAC-SM3
    /// stretches the passphrase into an SM4-GCM key-encryption key, and the slot says so. The
    /// slot's KEK is exactly PBKDF2-HMAC-SM3 as OpenSSL computes it (an independent check that
    /// the stored iterations and salt are what is used), and a slot whose cost is out of range
    /// is malformed, not a wrong passphrase.
    @Test func gmSlotsUsePBKDF2HMACSM3AndSM4GCM() throws {
        let master = SecretKey.random(count: 32)
        let passphrase = Array("correct horse".utf8)
        let slot = try KeyWrapping.wrap(master: master, secret: .passphrase(passphrase), suite: .sm4gcm, tenant: "gov", createdAt: Date())
        #expect(slot.kdf == .pbkdf2HMACSM3 && slot.iterations == KeyWrapping.pbkdf2Iterations && slot.scryptN == nil)
        let json = String(decoding: try JSONEncoder().encode(slot), as: UTF8.self)
        #expect(json.contains("\"kdf\":\"pbkdf2-hmac-sm3\""), "\(json)")
        let kek = try PBKDF2.derive(algorithm: .sm3, passphrase: passphrase, salt: try #require(Hex.decode(slot.salt)),
                                    iterations: KeyWrapping.pbkdf2Iterations, count: 16, library: .openssl)
        let sealed = try #require(Hex.decode(slot.wrappedKey))
        #expect(sealed.count == 32 + SM4GCMCipher.overhead)
        let opened = try SM4GCMCipher(key: kek).open(sealed, associatedData: Array("TNDMKEY1gov".utf8) + [0] + Array(slot.id.utf8))
        #expect(opened == master.withUnsafeBytes { Array($0) })
        #expect(try KeyWrapping.unwrap(slot: slot, secret: .passphrase(passphrase), suite: .sm4gcm, tenant: "gov").constantTimeEquals(master))
        for iterations in [nil, 1, 9_999, 100_000_001] as [UInt64?] {
            var bad = slot
            bad.iterations = iterations
            #expect(throws: KeySlotError.malformed(slot.id)) {
                try KeyWrapping.unwrap(slot: bad, secret: .passphrase(passphrase), suite: .sm4gcm, tenant: "gov")
            }
        }
        // The old suites keep scrypt, and a slot without a kdf field is a scrypt slot.
        for suite in [CryptoSuite.aes256gcm, .sm4ctr] {
            let old = try KeyWrapping.wrap(master: master, secret: .passphrase(passphrase), suite: suite, tenant: "gov", createdAt: Date())
            #expect(old.kdf == nil && old.scryptN == KeyWrapping.scryptN)
            #expect(!String(decoding: try JSONEncoder().encode(old), as: UTF8.self).contains("kdf"))
        }
    }

    @Test func keyFileSlots() throws {
        let master = SecretKey.random(count: 32)
        let file = SecureRandom.bytes(64)
        let slot = try KeyWrapping.wrap(master: master, secret: .keyFile(file), suite: .aes256gcm, tenant: "t", createdAt: Date())
        #expect(try KeyWrapping.unwrap(slot: slot, secret: .keyFile(file), suite: .aes256gcm, tenant: "t").constantTimeEquals(master))
        #expect(throws: KeySlotError.wrongKey) { try KeyWrapping.unwrap(slot: slot, secret: .passphrase(file), suite: .aes256gcm, tenant: "t") }
        #expect(throws: KeySlotError.keyFileTooShort(5)) {
            try KeyWrapping.wrap(master: master, secret: .keyFile([1, 2, 3, 4, 5]), suite: .aes256gcm, tenant: "t", createdAt: Date())
        }
    }

    @Test func secretsNeverPrint() {
        let key = SecretKey(bytes: Array(repeating: 0xAB, count: 32))
        #expect(!"\(key)".contains("abab"))
        #expect(!String(reflecting: key).contains("abab"))
    }
}
