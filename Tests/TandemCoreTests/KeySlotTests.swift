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
