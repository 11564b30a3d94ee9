import Foundation
import Testing
import TandemTestSupport
import TandemCodecs
import TandemCore
@testable import TandemStore

/// Long chunk lists go to chunk-list blobs (here after 7 references instead of 16384, so small
/// sources exercise it): backup, restore, check, dedup, forget and prune all follow them.
@Suite struct ChunkListBlobTests {
    func options() -> BackupOptions {
        var options = smallPacks()
        options.chunkListLimit = 7
        return options
    }

    @Test func streamListsRoundTripAndStayOutOfTheManifest() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir, chunker: .cdc(minimum: 2048, average: 8192, maximum: 32768))
        var image = imageBytes(2 << 20, seed: 40)
        image += [UInt8](repeating: 0, count: 1 << 20)  // a zero run inside listed chunks
        image += imageBytes(300_000, seed: 41)
        write(image, to: dir.file("disk.img"))
        let first = try await tenant.backup(.stream(path: dir.file("disk.img")), options: options(), now: Date())
        let manifest = try await tenant.loadManifest(first.snapshotID)
        let list = try #require(manifest.stream)
        #expect(list.isIndirect && list.refs.isEmpty)
        #expect(list.count == first.summary.chunks && list.totalLength == image.count)
        #expect(list.lists.allSatisfy { $0.count <= 7 })
        _ = try await tenant.restore("latest", to: .path(dir.file("out.img")), options: RestoreOptions())
        expectSameBytes(read(dir.file("out.img")), image)
        let piped = dir.file("piped")
        try await withStandardOutput(to: piped) {
            _ = try await tenant.restore("latest", to: .standardOutput, options: RestoreOptions())
        }
        expectSameBytes(read(piped), image)
        // Unchanged data: the lists themselves dedupe too.
        let again = try await tenant.backup(.stream(path: dir.file("disk.img")), options: options(), now: Date())
        #expect(again.summary.bytesNew == 0)
        #expect(try await tenant.check(readData: true).ok)
    }

    @Test func treeFileListsAndPruneKeepListBlobs() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir, chunker: .cdc(minimum: 2048, average: 8192, maximum: 32768))
        try FileManager.default.createDirectory(atPath: dir.file("src/sub"), withIntermediateDirectories: true)
        write(imageBytes(900_000, seed: 42), to: dir.file("src/big.bin"))
        write(Array("small\n".utf8), to: dir.file("src/sub/small.txt"))
        let first = try await tenant.backup(.tree(path: dir.file("src")), options: options(), now: Date(timeIntervalSince1970: 1_000))
        let entries = try #require(try await tenant.loadManifest(first.snapshotID).tree)
        #expect(entries.first { $0.path == "big.bin" }?.chunks?.isIndirect == true)
        #expect(entries.first { $0.path == "sub/small.txt" }?.chunks?.isIndirect == false)
        // A second backup skips the unchanged big file by metadata, reusing its list blobs.
        write(Array("changed\n".utf8), to: dir.file("src/sub/small.txt"))
        let second = try await tenant.backup(.tree(path: dir.file("src")), options: options(), now: Date(timeIntervalSince1970: 2_000))
        #expect(second.summary.filesUnchanged == 1)
        _ = try await tenant.forget(policy: RetentionPolicy(keepLast: 1), dryRun: false, now: Date(timeIntervalSince1970: 3_000))
        var prune = PruneOptions()
        prune.repackThreshold = 0.01
        prune.packSize = 1 << 20
        _ = try await tenant.prune(options: prune)
        let check = try await tenant.check(readData: true)
        #expect(check.ok, "\(check.problems)")
        _ = try await tenant.restore("latest", to: .path(dir.file("dst")), options: RestoreOptions())
        expectSameBytes(read(dir.file("dst/big.bin")), read(dir.file("src/big.bin")))
        expectSameBytes(read(dir.file("dst/sub/small.txt")), Array("changed\n".utf8))
    }

    @Test func missingListBlobIsReported() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir, chunker: .cdc(minimum: 2048, average: 8192, maximum: 32768))
        write(imageBytes(1 << 20, seed: 43), to: dir.file("disk.img"))
        let result = try await tenant.backup(.stream(path: dir.file("disk.img")), options: options(), now: Date())
        let list = try #require(try await tenant.loadManifest(result.snapshotID).stream?.lists.first)
        let location = try #require(try tenant.index.location(of: list.id))
        var bytes = read(dir.file("repo/tenants/acme/packs/\(location.pack.prefix(2))/\(location.pack)"))
        bytes[location.offset + 20] ^= 0xFF
        write(bytes, to: dir.file("repo/tenants/acme/packs/\(location.pack.prefix(2))/\(location.pack)"))
        let report = try await tenant.check(readData: false)
        #expect(report.problems.contains { $0.object.hasPrefix("snapshot") })
        await #expect(throws: BlobError.self) {
            _ = try await tenant.restore("latest", to: .path(dir.file("out")), options: RestoreOptions())
        }
    }
}

@Suite struct ChunkListFormatTests {
    @Test func inlineAndIndirectEncodingsRoundTrip() throws {
        let inline = ChunkList([ChunkRef(id: ChunkID(bytes: Array(repeating: 3, count: 32)), length: 70_000)])
        let indirect = ChunkList(lists: [ChunkListRef(id: ChunkID(bytes: Array(repeating: 4, count: 32)), count: 16384, length: 1 << 30)])
        for list in [inline, indirect, ChunkList()] {
            let data = try JSONEncoder().encode([list])
            #expect(try JSONDecoder().decode([ChunkList].self, from: data) == [list])
        }
        #expect(String(decoding: try JSONEncoder().encode([indirect]), as: UTF8.self).contains("\"lists\""))
        #expect(throws: (any Error).self) { try JSONDecoder().decode([ChunkList].self, from: Data(#"[{"lists":"AAAA"}]"#.utf8)) }
        #expect(throws: FormatError.self) { try ChunkListCodec.decode([1, 2, 3], what: "x") }
    }
}

@Suite struct RefCollectorTests {
    /// References arriving concurrently and out of order come out in order, in lists of at most
    /// the limit, whatever interleaving the actor's suspension points allow.
    @Test func concurrentOutOfOrderReferences() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        let sink = try PackSink(tenant: tenant, known: KnownChunks(stored: []), packSize: 64 << 10)
        let collector = try RefCollector(sink: sink, keys: tenant.keys, compression: .none, limit: 3)
        let count = 3000
        // Input boundaries every 250 chunks; IDs derived from the sequence number.
        func ref(_ n: Int) -> ChunkRef {
            ChunkRef(id: ChunkID(bytes: (0..<32).map { UInt8(truncatingIfNeeded: n >> (8 * ($0 % 4))) ^ UInt8($0) }), length: n + 1)
        }
        let order = (0..<count).shuffled()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for n in order where n % 8 == worker {
                        try await collector.accept(sequence: n, input: n / 250, ref: ref(n))
                    }
                }
            }
            try await group.waitForAll()
        }
        let lists = try await collector.finish()
        try await sink.flush()
        #expect(lists.count == count / 250)
        let reader = try BlobSealer(keys: tenant.keys, compression: .none)
        for input in 0..<(count / 250) {
            let list = try #require(lists[input])
            #expect(list.lists.allSatisfy { $0.count <= 3 })
            var seen: [ChunkRef] = []
            try await tenant.forEachChunk(of: list, sealer: reader) { seen.append($0) }
            #expect(seen == (input * 250 ..< (input + 1) * 250).map(ref), "input \(input) out of order")
        }
    }
}
