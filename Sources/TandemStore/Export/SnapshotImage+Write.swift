import Foundation
import TandemCore
#if canImport(Glibc)
import Glibc
#endif

extension SnapshotImage {
    /// How an image is written out whole.
    public enum ImageFormat: String, Sendable, CaseIterable {
        /// The image's bytes, as the source was.
        case raw
        /// A qcow2 (v3) file whose zero chunks are unallocated clusters (``TandemCore/Qcow2Layout``).
        case qcow2
    }

    /// Writes the whole image to `fd` (a file or a pipe) front to back; returns the bytes written.
    public func write(as format: ImageFormat, to fd: Int32) async throws -> Int64 {
        switch format {
        case .raw:
            var offset = 0
            while offset < size {
                let length = min(4 << 20, size - offset)
                try DescriptorWriter.writeAll(fd, try await read(offset: offset, length: length), what: "the image")
                offset += length
            }
            return Int64(size)
        case .qcow2:
            return try await writeQcow2(to: fd)
        }
    }

    private func writeQcow2(to fd: Int32) async throws -> Int64 {
        let cluster = Qcow2Layout.clusterSize
        let clusters = (size + cluster - 1) / cluster
        var bits = [UInt64](repeating: 0, count: (clusters + 63) / 64)
        var offset = 0
        while offset < size {
            for run in try await extents(offset: offset, length: 1 << 30) {
                if !run.zero, run.length > 0 {
                    for index in (offset / cluster)...((offset + run.length - 1) / cluster) { bits[index / 64] |= 1 << UInt64(index % 64) }
                }
                offset += run.length
            }
        }
        let layout = Qcow2Layout(virtualSize: size) { bits[$0 / 64] & (1 << UInt64($0 % 64)) != 0 }
        var written: Int64 = 0
        try layout.forEachMetadataPiece { piece in
            try DescriptorWriter.writeAll(fd, piece, what: "the image")
            written += Int64(piece.count)
        }
        // The data clusters in guest order, read in runs of up to 64 (4 MiB).
        var index = 0
        while index < clusters {
            guard layout.isAllocated(index) else {
                index += 1
                continue
            }
            var end = index + 1
            while end < clusters, end - index < 64, layout.isAllocated(end) { end += 1 }
            let start = index * cluster
            var bytes = try await read(offset: start, length: min(end * cluster, size) - start)
            bytes += [UInt8](repeating: 0, count: (end - index) * cluster - bytes.count)
            try DescriptorWriter.writeAll(fd, bytes, what: "the image")
            written += Int64(bytes.count)
            index = end
        }
        return written
    }
}
