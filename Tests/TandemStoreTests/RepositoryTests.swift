import Foundation
import Testing
import TandemTestSupport
import TandemCodecs
import TandemCore
@testable import TandemStore

@Suite struct RepositoryTests {
    @Test(arguments: CryptoSuite.allCases)
    func streamRoundTripAndDedup(suite: CryptoSuite) async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir, suite: suite)
        let image = imageBytes(6 << 20, seed: 1)
        write(image, to: dir.file("disk.img"))
        let first = try await tenant.backup(.stream(path: dir.file("disk.img")), options: smallPacks(), now: Date())
        #expect(first.summary.bytesRead == Int64(image.count))
        #expect(first.summary.bytesStored < Int64(image.count))  // text and zeros compress
        let second = try await tenant.backup(.stream(path: dir.file("disk.img")), options: smallPacks(), now: Date())
        #expect(second.summary.bytesNew == 0)
        #expect(Double(second.summary.bytesStored) < 0.01 * Double(image.count))
        _ = try await tenant.restore(first.snapshotID, to: .path(dir.file("out.img")), options: RestoreOptions())
        expectSameBytes(read(dir.file("out.img")), image)
        let report = try await tenant.check(readData: true)
        #expect(report.ok, "\(report.problems)")
        #expect(report.snapshots == 2)
    }

    @Test func scatteredWritesStoreLittle() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        var image = imageBytes(8 << 20, seed: 2)
        write(image, to: dir.file("disk.img"))
        _ = try await tenant.backup(.stream(path: dir.file("disk.img")), options: smallPacks(), now: Date())
        for block in stride(from: 100, to: 2000, by: 400) {
            for offset in block * 4096 ..< block * 4096 + 4096 { image[offset] = UInt8(truncatingIfNeeded: offset &* 31) }
        }
        image.insert(contentsOf: Array(repeating: 0xEE, count: 3000), at: 5_000_001)
        write(image, to: dir.file("disk.img"))
        let v2 = try await tenant.backup(.stream(path: dir.file("disk.img")), options: smallPacks(), now: Date())
        // Five 4 KiB writes and one insertion each disturb one or two chunks (at most 256 KiB
        // each: zero runs make maximum-size chunks), never the rest of the 8 MiB image.
        #expect(v2.summary.bytesNew <= 7 * (256 << 10), "new bytes \(v2.summary.bytesNew)")
        #expect(v2.summary.chunksNew <= 12)
        _ = try await tenant.restore("latest", to: .path(dir.file("out.img")), options: RestoreOptions())
        expectSameBytes(read(dir.file("out.img")), image)
    }

    @Test func fixedChunkerAndNoCompression() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir, compression: .none, chunker: .fixed(size: 1 << 20))
        let image = imageBytes(3 << 20 + 123, seed: 3)
        write(image, to: dir.file("disk.img"))
        let result = try await tenant.backup(.stream(path: dir.file("disk.img")), options: smallPacks(), now: Date())
        #expect(result.summary.chunks == 4)
        _ = try await tenant.restore("latest", to: .path(dir.file("out.img")), options: RestoreOptions())
        expectSameBytes(read(dir.file("out.img")), image)
    }

    @Test func plaintextNeverReachesTheRepository() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir, compression: .none)
        let marker = Array("TOP-SECRET-MARKER-5f1c2a".utf8)
        var source = imageBytes(1 << 20, seed: 4)
        source.replaceSubrange(500_000 ..< 500_000 + marker.count, with: marker)
        write(source, to: dir.file("secret.img"))
        try FileManager.default.createDirectory(atPath: dir.file("tree"), withIntermediateDirectories: true)
        write(marker, to: dir.file("tree/TOP-SECRET-MARKER-5f1c2a.txt"))
        _ = try await tenant.backup(.stream(path: dir.file("secret.img")), options: smallPacks(), now: Date())
        _ = try await tenant.backup(.tree(path: dir.file("tree")), options: smallPacks(), now: Date())
        let files = FileManager.default.enumerator(atPath: dir.file("repo"))!.compactMap { $0 as? String }
        #expect(files.count > 5)
        for file in files {
            let bytes = read(dir.file("repo/" + file))
            #expect(!file.contains("TOP-SECRET"))
            #expect(bytes.firstRange(of: marker) == nil, "marker found in \(file)")
        }
    }

    @Test func wrongPassphraseAndUnknownTenant() async throws {
        let dir = TemporaryDirectory()
        _ = try await makeTenant(dir)
        await #expect(throws: KeySlotError.wrongKey) { _ = try await reopen(dir, secret: .passphrase(Array("nope".utf8))) }
        await #expect(throws: RepositoryError.unknownTenant("ghost", known: ["acme"])) { _ = try await reopen(dir, name: "ghost") }
        await #expect(throws: RepositoryError.invalidTenantName("../x")) { _ = try await reopen(dir, name: "../x") }
    }

    @Test func newerRepositoryFormatIsRefused() async throws {
        let dir = TemporaryDirectory()
        _ = try await makeTenant(dir)
        write(Array(#"{"format": 7, "id": "x", "createdAt": "2030-01-01T00:00:00Z"}"#.utf8), to: dir.file("repo/config"))
        await #expect(throws: FormatError.unsupportedVersion("repository", found: 7, supported: 1...1)) {
            _ = try await Repository.open(backend: LocalBackend(root: dir.file("repo")))
        }
    }

    @Test func keySlotsAddAndRemoveWithoutReencrypting() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        write(imageBytes(100_000, seed: 5), to: dir.file("a"))
        _ = try await tenant.backup(.stream(path: dir.file("a")), options: smallPacks(), now: Date())
        let keyFile = SecureRandom.bytes(64)
        let slot = try await tenant.addKeySlot(.keyFile(keyFile), comment: "kms", now: Date())
        let original = try await tenant.keySlots().first { $0.id != slot.id }!
        try await tenant.removeKeySlot(original.id)
        await #expect(throws: RepositoryError.lastKeySlot(slot.id)) { try await tenant.removeKeySlot(slot.id) }
        await #expect(throws: KeySlotError.wrongKey) { _ = try await reopen(dir) }
        let viaFile = try await reopen(dir, secret: .keyFile(keyFile))
        _ = try await viaFile.restore("latest", to: .path(dir.file("b")), options: RestoreOptions())
        expectSameBytes(read(dir.file("b")), read(dir.file("a")))
    }

    @Test func indexRebuildsFromPacksAndManifests() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        write(imageBytes(3 << 20, seed: 6), to: dir.file("a"))
        let backup = try await tenant.backup(.stream(path: dir.file("a")), options: smallPacks(), now: Date())
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: dir.file("repo/tenants/acme/index.sqlite" + suffix)) }
        let fresh = try await reopen(dir)
        #expect(try await fresh.snapshots().map(\.id) == [backup.snapshotID])
        _ = try await fresh.restore("latest", to: .path(dir.file("b")), options: RestoreOptions())
        expectSameBytes(read(dir.file("b")), read(dir.file("a")))
        // A garbage database file is reported as such; moved aside, it is rebuilt too.
        let path = dir.file("repo/tenants/acme/index.sqlite")
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        write(Array(repeating: 0x42, count: 4096), to: path)
        await #expect(throws: IndexCorruption.self) { _ = try await reopen(dir) }
        #expect(IndexDatabase.moveAside(path) == path + ".damaged")
        let again = try await reopen(dir)
        #expect(try await again.snapshots().count == 1)
    }
}

@Suite struct SparseRestoreTests {
    @Test func zeroRunsBecomeHolesAndTrailingZerosKeepTheSize() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        var image = imageBytes(300_000, seed: 30).map { $0 | 1 }  // no zero runs of its own
        image += [UInt8](repeating: 0, count: 3 << 20)
        image += imageBytes(100_000, seed: 31).map { $0 | 1 }
        image += [UInt8](repeating: 0, count: 2 << 20)
        write(image, to: dir.file("disk.img"))
        _ = try await tenant.backup(.stream(path: dir.file("disk.img")), options: smallPacks(), now: Date())
        _ = try await tenant.restore("latest", to: .path(dir.file("out.img")), options: RestoreOptions())
        expectSameBytes(read(dir.file("out.img")), image)
        var info = stat()
        stat(dir.file("out.img"), &info)
        #expect(Int(info.st_blocks) * 512 < image.count / 2, "restored image is not sparse: \(info.st_blocks) blocks")
        // To stdout (no holes possible) the zeros are written out.
        let piped = dir.file("piped")
        try await withStandardOutput(to: piped) {
            _ = try await tenant.restore("latest", to: .standardOutput, options: RestoreOptions())
        }
        expectSameBytes(read(piped), image)
    }

    /// Zero chunks shorter than the chunker's maximum are learned from their repeated ID, across
    /// a tree's files: of three all-zero 40,000-byte files (one chunk each, one ID) the first is
    /// fetched and written, the two after it are left holes.
    @Test func aRepeatedZeroChunkOfAnyLengthBecomesAHole() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        try FileManager.default.createDirectory(atPath: dir.file("tree"), withIntermediateDirectories: true)
        for name in ["a", "b", "c"] { write([UInt8](repeating: 0, count: 40_000), to: dir.file("tree/\(name).img")) }
        write(imageBytes(50_000, seed: 32), to: dir.file("tree/data.bin"))
        _ = try await tenant.backup(.tree(path: dir.file("tree")), options: smallPacks(), now: Date())
        _ = try await tenant.restore("latest", to: .path(dir.file("out")), options: RestoreOptions())
        for name in ["a", "b", "c"] {
            expectSameBytes(read(dir.file("out/\(name).img")), [UInt8](repeating: 0, count: 40_000))
            var info = stat()
            stat(dir.file("out/\(name).img"), &info)
            if name != "a" { #expect(info.st_blocks == 0, "\(name).img was written, not left a hole: \(info.st_blocks) blocks") }
        }
        expectSameBytes(read(dir.file("out/data.bin")), read(dir.file("tree/data.bin")))
    }
}
