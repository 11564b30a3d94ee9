import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes whole buffers to a descriptor (a file or a pipe), retrying short writes and EINTR:
/// what the dumps stream their archives and images through.
enum DescriptorWriter {
    /// Writes every byte of `bytes` to `fd`; a failure names `what` was being written.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], what: String) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw RepositoryError.targetUnwritable(what, String(cString: strerror(errno)))
            }
            done += n
        }
    }
}
