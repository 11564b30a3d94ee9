import Testing
import TandemCodecs
@testable import TandemCore

/// Verify-before-store without a second cryptographic hash: a sealed blob or group is handed
/// out only if it opens (AEAD), decompresses, and decodes to the length and XXH3-64 checksum
/// taken of the plaintext when its ID was. Each fault is injected where it would strike, for
/// every suite and codec, and must be refused with ``BlobError/sealVerificationFailed(_:)``.
@Suite struct VerifyBeforeStoreTests {
    static let codecs: [Compression] = [.zstd(level: 3), .lz4, .none]

    static func text(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededBytes(seed: seed)
        // Compressible: words from a small alphabet, so every codec really compresses it.
        return generator.bytes(count).map { 97 + $0 % 8 }
    }

    /// The buffer changes between the ID (and checksum) and the compressor: the ID names bytes
    /// that are no longer there, and sealing refuses what it was handed.
    @Test(arguments: CryptoSuite.allCases, codecs)
    func aBufferChangedAfterHashingIsRefused(suite: CryptoSuite, compression: Compression) throws {
        let sealer = try BlobSealer(keys: try TenantKeys(master: Fixtures.master, suite: suite), compression: compression)
        var plain = Self.text(100_000, seed: 5)
        let fingerprint = plain.withUnsafeBytes { sealer.fingerprint(of: $0) }
        #expect(try plain.withUnsafeBytes { try sealer.seal($0, fingerprint: fingerprint) }.id == fingerprint.id)
        plain[70_001] ^= 0x01
        #expect(throws: BlobError.sealVerificationFailed(fingerprint.id)) {
            try plain.withUnsafeBytes { try sealer.seal($0, fingerprint: fingerprint) }
        }
    }

    /// A fault inside sealing: the compressed payload before encryption, or the ciphertext
    /// after it.
    @Test(arguments: CryptoSuite.allCases, codecs)
    func aFaultInsideSealingIsRefused(suite: CryptoSuite, compression: Compression) throws {
        let sealer = try BlobSealer(keys: try TenantKeys(master: Fixtures.master, suite: suite), compression: compression)
        let plain = Self.text(100_000, seed: 6)
        let fingerprint = plain.withUnsafeBytes { sealer.fingerprint(of: $0) }
        for fault in [BlobSealer.SealFault.framedPayload, .ciphertext] {
            sealer.injectedFault = fault
            #expect(throws: BlobError.sealVerificationFailed(fingerprint.id), "\(fault)") {
                try plain.withUnsafeBytes { try sealer.seal($0, fingerprint: fingerprint) }
            }
        }
        sealer.injectedFault = nil
        let blob = try plain.withUnsafeBytes { try sealer.seal($0, fingerprint: fingerprint) }
        #expect(try blob.bytes.withUnsafeBytes { try sealer.open($0, id: fingerprint.id, maximumLength: plain.count) } == plain)
    }

    /// The same for group frames: a member changed after its ID was taken, or a fault in the
    /// frame or its ciphertext, is refused; an intact group opens member by member.
    @Test(arguments: CryptoSuite.allCases)
    func groupsAreVerifiedMemberByMember(suite: CryptoSuite) throws {
        let sealer = try BlobSealer(keys: try TenantKeys(master: Fixtures.master, suite: suite), compression: .zstd(level: 3))
        let members = (0..<6).map { Self.text(40_000 + $0 * 1000, seed: 10 + UInt64($0)) }
        let prints = members.map { bytes in bytes.withUnsafeBytes { sealer.fingerprint(of: $0) } }
        func build(changing changed: Int? = nil) throws -> ChunkGroupBuilder {
            let builder = ChunkGroupBuilder(level: 3)
            for (index, bytes) in members.enumerated() {
                var bytes = bytes
                if index == changed { bytes[bytes.count / 3] ^= 0x40 }
                try bytes.withUnsafeBytes { try builder.append($0, fingerprint: prints[index]) }
            }
            return builder
        }
        #expect(throws: BlobError.sealVerificationFailed(prints[4].id)) { try build(changing: 4).seal(with: sealer) }
        for fault in [BlobSealer.SealFault.framedPayload, .ciphertext] {
            sealer.injectedFault = fault
            #expect(throws: BlobError.self, "\(fault)") { try build().seal(with: sealer) }
            sealer.injectedFault = nil
        }
        let group = try build().seal(with: sealer)
        let reader = try group.bytes.withUnsafeBytes { try ChunkGroupReader($0, sealer: sealer, for: prints[0].id) }
        for (member, bytes) in zip(group.members, members) {
            #expect(try reader.member(member.id, inner: member.inner, length: member.rawLength, sealer: sealer) == bytes)
        }
    }

    /// Known answers of the checksum, from the reference `xxhsum -H3` (xxHash 0.8).
    @Test func checksumKnownAnswers() {
        #expect(Checksum64(of: [UInt8]()).description == "2d06800538d394c2")
        #expect(Checksum64(of: Array("abc".utf8)).description == "78af5f94892f3950")
        #expect(Checksum64(of: [UInt8](repeating: 0, count: 100_000)).description == "315c72a64b7df4d2")
    }
}
