import CTandemSystem
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Writes restored chunks of one file or block device at their offsets (pwrite), from every
/// worker at once: no reorder buffer, and the copies into the page cache run on all cores.
/// Zero chunks are left as holes in a fresh regular file (which is sized up front). With
/// `regions`, chunks are gathered and written around the page cache instead.
final class PositionalWriter: Sendable {
    let fd: Int32
    let sparse: Bool
    private let path: String
    private let regions: AlignedRegionWriter?
    private let written = Atomic<Int>(0)
    private let kicked = Atomic<Int>(0)
    private static let zeroBlock = [UInt8](repeating: 0, count: 1 << 20)

    init(fd: Int32, sparse: Bool, path: String, regions: AlignedRegionWriter? = nil) {
        self.fd = fd
        self.sparse = sparse
        self.path = path
        self.regions = regions
    }

    func write(_ payload: RestorePayload, at offset: Int) async throws {
        if let regions { return try await regions.write(payload, at: offset) }
        switch payload {
        case .bytes(let bytes):
            try writeAll(bytes[...], at: offset)
        case .zeros where sparse:
            return
        case .zeros(let count):
            var done = 0
            while done < count {
                let piece = min(count - done, Self.zeroBlock.count)
                try writeAll(Self.zeroBlock[0..<piece], at: offset + done)
                done += piece
            }
        }
    }

    /// Checks that every byte was delivered (with regions: every region written).
    func finish() throws {
        try regions?.finish()
    }

    private func writeAll(_ bytes: ArraySlice<UInt8>, at offset: Int) throws {
        do {
            try LocalBackend.writeAll(fd, bytes, at: offset, path: path)
        } catch {
            throw RepositoryError.targetUnwritable(path, "\(error)")
        }
        // Start writeback every 64 MiB so the final fsync has little left to wait for.
        let total = written.add(bytes.count, ordering: .relaxed).newValue
        let last = kicked.load(ordering: .relaxed)
        if total - last >= 64 << 20, kicked.compareExchange(expected: last, desired: total, ordering: .relaxed).exchanged {
            _ = tandem_start_writeback(fd, 0, 0)
        }
    }
}
