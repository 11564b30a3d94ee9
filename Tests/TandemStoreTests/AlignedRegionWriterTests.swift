import Foundation
import Testing
import TandemCore
import TandemTestSupport
@testable import TandemStore
#if canImport(Glibc)
import Glibc
#endif

/// The restore's O_DIRECT writer: chunks delivered in any order from several tasks end up byte
/// for byte where they belong, blocks wholly inside zero chunks stay holes, and a restore that
/// missed a chunk fails instead of leaving a file with a gap.
@Suite struct AlignedRegionWriterTests {
    /// Chunks covering `total` bytes: data chunks of irregular sizes, zero chunks among them, and
    /// one zero run spanning a whole region.
    func pieces(total: Int) -> (expected: [UInt8], chunks: [(offset: Int, payload: RestorePayload)]) {
        var expected = [UInt8](repeating: 0, count: total)
        var chunks: [(Int, RestorePayload)] = []
        var offset = 0
        var step = 0
        let zeroRegion = AlignedRegionWriter.regionSize..<(2 * AlignedRegionWriter.regionSize + 5000)
        while offset < total {
            step += 1
            var length = min(total - offset, 1000 + (step * 7919) % 300_000)
            if zeroRegion.contains(offset) { length = min(length, zeroRegion.upperBound - offset) }
            if zeroRegion.contains(offset) || step % 5 == 0 {
                chunks.append((offset, .zeros(length)))
            } else {
                let bytes = (0..<length).map { UInt8(truncatingIfNeeded: ($0 + offset) &* 131 | 1) }
                expected.replaceSubrange(offset..<offset + length, with: bytes)
                chunks.append((offset, .bytes(bytes)))
            }
            offset += length
        }
        return (expected, chunks)
    }

    func target(_ dir: TemporaryDirectory, total: Int) throws -> (buffered: Int32, direct: Int32) {
        let path = dir.file("out.img")
        let buffered = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        #expect(buffered >= 0 && ftruncate(buffered, off_t(total)) == 0)
        let direct = try #require(AlignedRegionWriter.openDirect(path), "the test folder's filesystem refuses O_DIRECT")
        return (buffered, direct)
    }

    @Test func chunksInAnyOrderFromSeveralTasksLandInPlaceAndZerosStayHoles() async throws {
        let dir = TemporaryDirectory()
        let total = 3 * AlignedRegionWriter.regionSize + 1234
        let (expected, chunks) = pieces(total: total)
        let fds = try target(dir, total: total)
        defer { close(fds.buffered); close(fds.direct) }
        let writer = AlignedRegionWriter(directFD: fds.direct, bufferedFD: fds.buffered, total: total, sparse: true, path: dir.file("out.img"))
        // Four tasks, each taking every fourth chunk from the end backwards.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<4 {
                let mine = chunks.enumerated().filter { $0.offset % 4 == lane }.map(\.element).reversed()
                group.addTask { for chunk in mine { try await writer.write(chunk.payload, at: chunk.offset) } }
            }
            try await group.waitForAll()
        }
        try writer.finish()
        #expect(fsync(fds.buffered) == 0)
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file("out.img"))))
        #expect(written.count == total)
        #expect(written == expected)
        var info = stat()
        #expect(stat(dir.file("out.img"), &info) == 0)
        // The zero region and the blocks inside zero chunks take no space.
        #expect(Int(info.st_blocks) * 512 <= total - AlignedRegionWriter.regionSize, "\(info.st_blocks) blocks allocated")
    }

    @Test func aMissingChunkFailsTheRestore() async throws {
        let dir = TemporaryDirectory()
        let total = AlignedRegionWriter.regionSize + 10
        let fds = try target(dir, total: total)
        defer { close(fds.buffered); close(fds.direct) }
        let writer = AlignedRegionWriter(directFD: fds.direct, bufferedFD: fds.buffered, total: total, sparse: false, path: dir.file("out.img"))
        try await writer.write(.bytes([UInt8](repeating: 7, count: 100)), at: 0)
        try await writer.write(.bytes([UInt8](repeating: 8, count: 10)), at: AlignedRegionWriter.regionSize)
        #expect(throws: RepositoryError.self) { try writer.finish() }
        await #expect(throws: RepositoryError.self) { try await writer.write(.zeros(20), at: total - 10) }
    }

    @Test func holesAreTheAlignedBlocksInsideMergedZeroRanges() {
        #expect(AlignedRegionWriter.holes(in: [100..<4096, 4096..<9000, 20_000..<20_100]) == [4096..<8192])
        #expect(AlignedRegionWriter.holes(in: [8192..<12_288, 0..<4097]) == [0..<4096, 8192..<12_288])
        #expect(AlignedRegionWriter.holes(in: []) == [])
    }

    @Test func anImageRestoredThroughTheCacheIsTheSame() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        var image = imageBytes(700_000, seed: 40)
        image += [UInt8](repeating: 0, count: 5 << 20)
        write(image, to: dir.file("disk.img"))
        _ = try await tenant.backup(.stream(path: dir.file("disk.img")), options: smallPacks(), now: Date())
        var options = RestoreOptions()
        options.bypassPageCache = false
        _ = try await tenant.restore("latest", to: .path(dir.file("cached.img")), options: options)
        expectSameBytes(read(dir.file("cached.img")), image)
    }
}
