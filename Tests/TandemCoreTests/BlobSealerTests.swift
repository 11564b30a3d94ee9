import Testing
import TandemCodecs
import TandemCore

@Suite struct BlobSealerTests {
    static let cases: [(CryptoSuite, Compression)] = [
        (.aes256gcm, .zstd(level: 3)), (.aes256gcm, .lz4), (.aes256gcm, .none), (.sm4gcm, .zstd(level: 1)), (.sm4gcm, .none),
        (.sm4ctr, .zstd(level: 1)), (.sm4ctr, .none),
    ]

    @Test(arguments: 0..<7)
    func roundTrip(caseIndex: Int) throws {
        let (suite, compression) = Self.cases[caseIndex]
        let keys = try TenantKeys(master: Fixtures.master, suite: suite)
        let sealer = try BlobSealer(keys: keys, compression: compression)
        var generator = SeededBytes(seed: 3)
        for size in [0, 1, 4096, 200_000] {
            let plain = generator.bytes(size)
            let id = plain.withUnsafeBytes { sealer.chunkID(of: $0) }
            let blob = try plain.withUnsafeBytes { try sealer.seal($0, id: id) }
            let opened = try blob.bytes.withUnsafeBytes { try sealer.open($0, id: id, maximumLength: size) }
            let same = opened == plain
            #expect(same, "round trip of \(size) bytes")
            #expect(blob.rawLength == size)
        }
    }

    @Test func incompressibleChunksAreStoredRaw() throws {
        let sealer = try BlobSealer(keys: try TenantKeys(master: Fixtures.master, suite: .aes256gcm), compression: .zstd(level: 3))
        let random = SecureRandom.bytes(65_536)
        let id = random.withUnsafeBytes { sealer.chunkID(of: $0) }
        let blob = try random.withUnsafeBytes { try sealer.seal($0, id: id) }
        #expect(blob.codec == .raw)
        #expect(blob.bytes.count == 65_536 + 5 + AES256GCMCipher.overhead)
        let text = Array(String(repeating: "compressible ", count: 5000).utf8)
        let textID = text.withUnsafeBytes { sealer.chunkID(of: $0) }
        #expect(try text.withUnsafeBytes { try sealer.seal($0, id: textID) }.codec == .zstd)
    }

    @Test(arguments: CryptoSuite.allCases)
    func everyTamperedByteIsDetected(suite: CryptoSuite) throws {
        let sealer = try BlobSealer(keys: try TenantKeys(master: Fixtures.master, suite: suite), compression: .zstd(level: 3))
        let plain = Array("a chunk of tenant data that must not be altered".utf8)
        let id = plain.withUnsafeBytes { sealer.chunkID(of: $0) }
        let blob = try plain.withUnsafeBytes { try sealer.seal($0, id: id) }
        for index in blob.bytes.indices {
            var damaged = blob.bytes
            damaged[index] ^= 0x01
            #expect(throws: BlobError.self) { try damaged.withUnsafeBytes { try sealer.open($0, id: id, maximumLength: 1 << 20) } }
        }
        let otherID = Array("other".utf8).withUnsafeBytes { sealer.chunkID(of: $0) }
        #expect(throws: BlobError.authenticationFailed(otherID)) {
            try blob.bytes.withUnsafeBytes { try sealer.open($0, id: otherID, maximumLength: 1 << 20) }
        }
    }

    @Test func chunkIDsAreKeyedPerTenant() throws {
        let a = try BlobSealer(keys: try TenantKeys(master: Fixtures.master, suite: .aes256gcm), compression: .none)
        let b = try BlobSealer(keys: try TenantKeys(master: SecretKey(bytes: Array(repeating: 9, count: 32)), suite: .aes256gcm), compression: .none)
        let plain = Array("same content in two tenants".utf8)
        #expect(plain.withUnsafeBytes { a.chunkID(of: $0) } != plain.withUnsafeBytes { b.chunkID(of: $0) })
        let gcm = try BlobSealer(keys: try TenantKeys(master: Fixtures.master, suite: .sm4gcm), compression: .none)
        let ctr = try BlobSealer(keys: try TenantKeys(master: Fixtures.master, suite: .sm4ctr), compression: .none)
        #expect(plain.withUnsafeBytes { a.chunkID(of: $0) } != plain.withUnsafeBytes { gcm.chunkID(of: $0) })
        // Both SM suites name chunks with HMAC-SM3 under the same HKDF-SM3 subkey.
        #expect(plain.withUnsafeBytes { ctr.chunkID(of: $0) } == plain.withUnsafeBytes { gcm.chunkID(of: $0) })
    }

    @Test func subkeysDiffer() throws {
        let keys = try TenantKeys(master: Fixtures.master, suite: .sm4ctr)
        #expect(keys.dataKey.count == 48 && keys.idKey.count == 32)
        #expect(!keys.idKey.constantTimeEquals(keys.manifestKey))
        let gcm = try TenantKeys(master: Fixtures.master, suite: .sm4gcm)
        #expect(gcm.dataKey.count == 16 && gcm.manifestKey.count == 16 && gcm.idKey.count == 32)
        #expect(!gcm.dataKey.constantTimeEquals(gcm.manifestKey))
    }

    @Test func compressionSettingsParse() throws {
        #expect(try Compression(parsing: "zstd:19") == .zstd(level: 19))
        #expect(try Compression(parsing: "lz4") == .lz4)
        #expect(throws: CompressionParseError.levelOutOfRange(40)) { try Compression(parsing: "zstd:40") }
        #expect(throws: CompressionParseError.self) { try Compression(parsing: "gzip") }
    }

    @Test func chunkIDHexRoundTrips() {
        let id = ChunkID(bytes: Array(0..<32))
        #expect(ChunkID(hex: id.hex) == id)
        #expect(id.hex.hasPrefix("000102"))
        #expect(ChunkID(hex: "zz") == nil)
    }
}

@Suite struct CompressibilityEstimateTests {
    @Test func randomIsSkippedTextIsNot() {
        let random = SecureRandom.bytes(65_536)
        #expect(random.withUnsafeBytes { CompressibilityEstimate.looksIncompressible($0) })
        let text = Array(String(repeating: "tenant backup policy ", count: 4000).utf8)
        #expect(!text.withUnsafeBytes { CompressibilityEstimate.looksIncompressible($0) })
        // Random but with a compressible middle: still tried.
        var mixed = random
        mixed.replaceSubrange(28_000 ..< 38_000, with: repeatElement(UInt8(0), count: 10_000))
        #expect(!mixed.withUnsafeBytes { CompressibilityEstimate.looksIncompressible($0) })
        #expect(!random.prefix(8000).withUnsafeBytes { CompressibilityEstimate.looksIncompressible($0) })
        #expect(abs(Array(0...255).map(UInt8.init).withUnsafeBytes { CompressibilityEstimate.entropy($0) } - 8) < 1e-9)
    }
}

@Suite struct ZeroChunkIDsTests {
    @Test func zeroChunksGetTheirHashedIDAndOthersNone() throws {
        let sealer = try BlobSealer(keys: try TenantKeys(master: Fixtures.master, suite: .aes256gcm), compression: .none)
        var zeros = ZeroChunkIDs()
        for length in [1, 4096, 65536, 65536, 262_144, 4097] {
            let chunk = [UInt8](repeating: 0, count: length)
            let expected = chunk.withUnsafeBytes { sealer.chunkID(of: $0) }
            #expect(chunk.withUnsafeBytes { zeros.id(of: $0, sealer: sealer) } == expected)
        }
        for position in [0, 1, 4095, 65535] {
            var chunk = [UInt8](repeating: 0, count: 65536)
            chunk[position] = 1
            #expect(chunk.withUnsafeBytes { zeros.id(of: $0, sealer: sealer) } == nil)
        }
        #expect([UInt8]().withUnsafeBytes { zeros.id(of: $0, sealer: sealer) } == nil)
        #expect(!ZeroChunkIDs.isAllZero(UnsafeRawBufferPointer(start: nil, count: 0)))
    }
}
