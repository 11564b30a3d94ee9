import Testing
@testable import TandemCodecs

@Suite struct SecretKeyTests {
    @Test func descriptionNeverRevealsBytes() {
        let bytes = unhex("deadbeefcafebabe0123456789abcdef")
        let key = SecretKey(bytes: bytes)
        let keyHex = hex(bytes)
        let renderings = [
            key.description, key.debugDescription, "\(key)", String(describing: key),
            String(reflecting: key), dumped(key), "\([key])",
        ]
        for s in renderings {
            #expect(!s.lowercased().contains(keyHex))
            #expect(!s.lowercased().contains("deadbeef"))
        }
        #expect(key.description == "SecretKey(<redacted 16 bytes>)")
        #expect(key.debugDescription == "SecretKey(<redacted 16 bytes>)")
    }

    private func dumped(_ value: some Any) -> String {
        var out = ""
        dump(value, to: &out)
        return out
    }

    @Test func storesAndExposesBytes() {
        let key = SecretKey(bytes: [1, 2, 3])
        #expect(key.count == 3)
        #expect(key.withUnsafeBytes { Array($0) } == [1, 2, 3])
        let empty = SecretKey(bytes: [])
        #expect(empty.count == 0)
        #expect(empty.withUnsafeBytes { $0.count } == 0)
    }

    @Test func randomKeysDiffer() {
        let a = SecretKey.random(count: 32)
        let b = SecretKey.random(count: 32)
        #expect(a.count == 32)
        #expect(!a.constantTimeEquals(b))
        #expect(a.constantTimeEquals(SecretKey(bytes: a.withUnsafeBytes { Array($0) })))
    }

    @Test func constantTimeEqualsSemantics() {
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(constantTimeEquals([], []))
        #expect(SecretKey.constantTimeEquals([9], [9]))
        #expect(!SecretKey(bytes: [1]).constantTimeEquals(SecretKey(bytes: [1, 0])))
    }

    @Test func secureRandom() {
        let a = SecureRandom.bytes(64)
        let b = SecureRandom.bytes(64)
        #expect(a.count == 64 && a != b)
        #expect(SecureRandom.bytes(0).isEmpty)
        var buf = [UInt8](repeating: 0, count: 4096)
        buf.withUnsafeMutableBytes { SecureRandom.fill($0) }
        #expect(buf.filter { $0 == 0 }.count < 100)
    }

    @Test func libraryVersions() {
        #expect(LibraryVersions.openssl.hasPrefix("OpenSSL 3."))
        #expect(LibraryVersions.zstd.split(separator: ".").count == 3)
        #expect(LibraryVersions.lz4.split(separator: ".").count == 3)
    }

    @Test func errorDescriptions() {
        #expect(CodecError.invalidKeyLength(expected: 32, got: 16).description == "invalid key length: expected 32 bytes, got 16")
        #expect(CodecError.authenticationFailed.description == "authentication failed")
        #expect("\(CodecError.sizeLimitExceeded(limit: 5))".contains("5"))
    }

    @Test func libcryptoErrorsAreDrained() throws {
        // An impossible scrypt parameter set (r·p ≥ 2^30) is refused by OpenSSL.
        do {
            _ = try Scrypt.derive(passphrase: [1], salt: [2], n: 2, r: 1 << 16, p: 1 << 15, count: 32, maxMemory: Int.max)
            Issue.record("expected a libcrypto error")
        } catch let CodecError.libcrypto(message) {
            #expect(message.hasPrefix("scrypt derive"))
        }
    }
}
