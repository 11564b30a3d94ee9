import CTandemSystem
#if canImport(Glibc)
import Glibc
#endif

/// Writes a whole new file around the page cache (O_DIRECT), for objects this host stores and
/// does not read back soon: a twin's received packs. The kernel neither copies the bytes into
/// cache pages nor has to find fresh pages for them; in a VM whose host takes freed memory
/// back, those fresh pages were most of the cost: 1 GB written and fsynced took 2.5–2.8 s of
/// system time buffered and 0.16–0.30 s direct here (`dd … oflag=direct`).
///
/// Bytes at a page-aligned address (the site link places large request bodies so) go to the
/// device as they are; others pass through one small aligned staging buffer. Where the
/// filesystem refuses O_DIRECT (tmpfs), or for the unaligned tail, the write is an ordinary
/// one. The caller fsyncs either way.
enum DirectWrite {
    /// Alignment of memory, offsets and lengths: the largest logical block size in use.
    static let alignment = 4096
    /// The staging buffer: big enough for the device to stream, small enough to stay in cache.
    static let stagingSize = 2 << 20

    /// Opens `path` for a new file (O_CREAT | O_EXCL), with O_DIRECT when the filesystem allows it.
    static func open(_ path: String) -> (fd: Int32, direct: Bool) {
        let flags = O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC
        let fd = Glibc.open(path, flags | tandem_o_direct(), 0o640)
        if fd >= 0 { return (fd, true) }
        guard errno == EINVAL else { return (-1, false) }
        return (Glibc.open(path, flags, 0o640), false)
    }

    /// Writes all of `bytes` at offset 0 of `fd` (opened by ``open(_:)``).
    static func write(_ fd: Int32, _ bytes: ArraySlice<UInt8>, direct: Bool, path: String) throws {
        var done = 0
        if direct {
            done = try bytes.withUnsafeBytes { try writeAligned(fd, $0, path: path) }
            // The tail (and everything, if the device refused) goes through the cache.
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~tandem_o_direct())
        }
        if done < bytes.count {
            try LocalBackend.writeAll(fd, bytes.dropFirst(done), at: done, path: path)
        }
    }

    /// Writes the longest aligned prefix of `raw` directly; returns how much it wrote.
    private static func writeAligned(_ fd: Int32, _ raw: UnsafeRawBufferPointer, path: String) throws -> Int {
        guard raw.count >= alignment, let base = raw.baseAddress else { return 0 }
        if Int(bitPattern: base) % alignment == 0 {
            return try writeChunks(fd, total: raw.count & ~(alignment - 1), path: path) { offset, _ in base + offset }
        }
        var staging: UnsafeMutableRawPointer?
        guard posix_memalign(&staging, alignment, stagingSize) == 0, let staging else { return 0 }
        defer { free(staging) }
        return try writeChunks(fd, total: raw.count & ~(alignment - 1), path: path) { offset, length in
            staging.copyMemory(from: base + offset, byteCount: length)
            return UnsafeRawPointer(staging)
        }
    }

    /// Writes `total` bytes (a multiple of the alignment) to an O_DIRECT `fd` at `fileOffset`,
    /// in pieces of at most ``stagingSize``, each from the aligned address `source` gives for
    /// it; returns how much was written. It stops early, without failing, where the device
    /// refuses the alignment (EINVAL) or writes short: the caller writes the rest through the cache.
    static func writeChunks(_ fd: Int32, total: Int, at fileOffset: Int = 0, path: String,
                            source: (_ offset: Int, _ length: Int) -> UnsafeRawPointer) throws -> Int {
        var offset = 0
        while offset < total {
            let length = min(stagingSize, total - offset)
            let written = pwrite(fd, source(offset, length), length, off_t(fileOffset + offset))
            if written < 0 {
                if errno == EINTR { continue }
                // Some devices want other alignments: the rest goes through the cache.
                if errno == EINVAL { return offset }
                throw LocalBackend.error(path)
            }
            offset += written
            // A short write leaves an unaligned offset; the cache takes it from there.
            if written % alignment != 0 { return offset }
        }
        return offset
    }
}
