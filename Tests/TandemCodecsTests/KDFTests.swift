import Testing
@testable import TandemCodecs

@Suite struct KDFTests {
    @Test func hkdfSHA256RFC5869Case1() throws {
        let okm = try HKDF.derive(
            inputKey: SecretKey(bytes: Array(repeating: 0x0b, count: 22)),
            salt: unhex("000102030405060708090a0b0c"),
            info: unhex("f0f1f2f3f4f5f6f7f8f9"),
            count: 42)
        #expect(okm.count == 42)
        okm.withUnsafeBytes {
            #expect(hex(Array($0)) == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
        }
    }

    @Test func hkdfSHA256RFC5869Case3EmptySaltAndInfo() throws {
        let okm = try HKDF.derive(
            inputKey: SecretKey(bytes: Array(repeating: 0x0b, count: 22)), salt: [], info: [], count: 42)
        okm.withUnsafeBytes {
            #expect(hex(Array($0)) == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
        }
    }

    @Test func hkdfSM3DiffersAndRejectsBadLengths() throws {
        let ikm = SecretKey(bytes: Array(repeating: 0x0b, count: 22))
        let a = try HKDF.derive(algorithm: .sm3, inputKey: ikm, salt: [1], info: [2], count: 32)
        let b = try HKDF.derive(algorithm: .sha256, inputKey: ikm, salt: [1], info: [2], count: 32)
        #expect(!a.constantTimeEquals(b))
        #expect(throws: CodecError.self) { try HKDF.derive(inputKey: ikm, salt: [], info: [], count: 0) }
        #expect(throws: CodecError.self) { try HKDF.derive(inputKey: ikm, salt: [], info: [], count: 255 * 32 + 1) }
        #expect(throws: CodecError.self) { try HKDF.derive(inputKey: SecretKey(bytes: []), salt: [], info: [], count: 32) }
    }

    @Test func scryptRFC7914Vector() throws {
        let key = try Scrypt.derive(
            passphrase: utf8("password"), salt: utf8("NaCl"), n: 1024, r: 8, p: 16, count: 64)
        key.withUnsafeBytes {
            #expect(hex(Array($0)) == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
                + "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640")
        }
    }

    @Test func scryptEmptyPasswordRFC7914Vector() throws {
        let key = try Scrypt.derive(passphrase: [], salt: [], n: 16, r: 1, p: 1, count: 64)
        key.withUnsafeBytes {
            #expect(hex(Array($0)) == "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
                + "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906")
        }
    }

    @Test func scryptAcceptsInteractiveParametersMemoryBound() {
        // n = 2^17, r = 8, p = 1 needs ~128 MiB, within the default limit.
        let needed = Scrypt.requiredMemory(n: 1 << 17, r: 8, p: 1)!
        #expect(needed > 128 << 20 && needed < Scrypt.defaultMaxMemory)
    }

    @Test func scryptRejectsBadParameters() {
        #expect(throws: CodecError.self) { try Scrypt.derive(passphrase: [1], salt: [2], n: 1000, r: 8, p: 1, count: 32) }
        #expect(throws: CodecError.self) { try Scrypt.derive(passphrase: [1], salt: [2], n: 1024, r: 0, p: 1, count: 32) }
        #expect(throws: CodecError.sizeLimitExceeded(limit: 1 << 20)) {
            try Scrypt.derive(passphrase: [1], salt: [2], n: 1 << 14, r: 8, p: 1, count: 32, maxMemory: 1 << 20)
        }
    }

    @Test func scryptInteractiveParametersRun() throws {
        let key = try Scrypt.derive(passphrase: utf8("pw"), salt: utf8("salt"), n: 1 << 17, r: 8, p: 1, count: 32)
        #expect(key.count == 32)
    }
}
