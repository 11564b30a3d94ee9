import Foundation
import TandemCore
#if canImport(Glibc)
import Glibc
#endif

/// One chunk cut from an input, numbered so the manifest can put chunks back in order. Its
/// bytes are usually a slice of the read buffer they arrived in (not copied).
struct Chunk: Sendable {
    let input: Int
    let sequence: Int
    let bytes: ArraySlice<UInt8>
}

/// Something a backup reads: an open descriptor (stdin) or a path opened when its turn comes.
enum FeedInput: Sendable {
    case descriptor(Int32, name: String)
    case path(String)

    var name: String {
        switch self {
        case .descriptor(_, let name): name
        case .path(let path): path
        }
    }
}

/// The first stage of the backup pipeline: reads the inputs in order and cuts them into
/// chunks, one chunk per ``next()`` call. Workers pull from it, so it reads only as fast as
/// chunks are consumed: the read-ahead is one buffer (1 MiB) plus one batch per worker.
actor ChunkFeed {
    private let inputs: [FeedInput]
    private var chunker: Chunker
    private var current = -1
    private var fd: Int32 = -1
    private var buffer: [UInt8]
    /// Buffers read before, oldest last: the one read two fills ago is reused (3 MiB in all).
    /// Five 2 MiB buffers were measured as fast for the 2 GiB image, and cost a tree re-backup
    /// 7 MiB more at its peak.
    private var spareBuffers: [[UInt8]] = []
    /// The size of the current input when it is a regular file under a quarter of the buffer.
    private var smallFileSize: Int?
    private var start = 0
    private var end = 0
    private var pending: [UInt8] = []
    private var sequence = 0
    private let progress: @Sendable (Int) -> Void
    /// Bytes read from each input.
    private(set) var bytesRead: [Int]
    /// Inputs that vanished or could not be read, with why; the backup leaves them out.
    private(set) var skipped: [Int: String] = [:]
    private let skipUnreadable: Bool

    static let bufferSize = 1 << 20

    init(inputs: [FeedInput], chunker: Chunker, skipUnreadable: Bool, progress: @escaping @Sendable (Int) -> Void) {
        self.inputs = inputs
        self.chunker = chunker
        self.skipUnreadable = skipUnreadable
        self.progress = progress
        buffer = []
        bytesRead = [Int](repeating: 0, count: inputs.count)
    }

    /// The next chunks in stream order: at least one, at most `count`, and no more once they
    /// reach `bytes` together; empty when every input is read. One call per batch keeps the
    /// workers' trips to this actor (and the thread wake-ups they cause) few.
    func next(upTo count: Int, bytes: Int) throws -> [Chunk] {
        var batch: [Chunk] = []
        var total = 0
        while batch.count < count && total < bytes, let chunk = try next() {
            total += chunk.bytes.count
            batch.append(chunk)
        }
        return batch
    }

    /// The next chunk, or nil when every input is read.
    func next() throws -> Chunk? {
        while true {
            if current < 0 || (start == end && fd < 0) {
                guard try advance() else { return nil }
                continue
            }
            if start == end {
                let n = try fill()
                if n == 0 {
                    closeCurrent()
                    if !pending.isEmpty { return emit(pending[...]) }
                    continue
                }
            }
            let cut = buffer.withUnsafeBytes { raw in
                chunker.findBoundary(in: UnsafeRawBufferPointer(rebasing: raw[start ..< end]))
            }
            if let cut {
                let piece = buffer[start ..< start + cut]
                start += cut
                if pending.isEmpty { return emit(piece) }
                pending.append(contentsOf: piece)
                return emit(pending[...])
            }
            pending.append(contentsOf: buffer[start ..< end])
            start = end
        }
    }

    /// A chunk of `bytes`: a slice of the read buffer as it is (each fill reads into a fresh
    /// buffer, so slices handed out stay valid), or a copy of `pending` when it spanned reads.
    private func emit(_ bytes: ArraySlice<UInt8>) -> Chunk {
        defer {
            sequence += 1
            pending.removeAll(keepingCapacity: true)
        }
        return Chunk(input: current, sequence: sequence, bytes: pending.isEmpty ? bytes : Array(bytes)[...])
    }

    /// Opens the next input; false when there is none.
    private func advance() throws -> Bool {
        closeCurrent()
        chunker.reset()
        pending.removeAll(keepingCapacity: true)
        while current + 1 < inputs.count {
            current += 1
            switch inputs[current] {
            case .descriptor(let descriptor, _):
                fd = descriptor
                smallFileSize = nil
                return true
            case .path(let path):
                let opened = SystemPath.withC(path) { open($0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
                if opened >= 0 {
                    fd = opened
                    var info = stat()
                    smallFileSize = fstat(opened, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
                        && Int(info.st_size) < Self.bufferSize / 4 ? Int(info.st_size) : nil
                    return true
                }
                let code = errno
                let why = String(cString: strerror(code))
                guard skipUnreadable else { throw RepositoryError.unreadable(FileNameBytes.display(path), code: code) }
                skipped[current] = why
            }
        }
        return false
    }

    private func fill() throws -> Int {
        start = 0
        end = 0
        // Chunks handed out may still point into the buffer just read; the next read goes into
        // the oldest of a few buffers in rotation, by then normally free again. Should a chunk
        // still hold it, writing into it copies it first (copy-on-write), so no chunk ever sees
        // its bytes change. Fresh memory for every read would be freed and faulted in again.
        if let size = smallFileSize {
            // A small file gets a buffer of its own size (one byte more shows its end), so its
            // chunks pin no 1 MiB buffer while they wait to be sealed.
            if buffer.count == Self.bufferSize { spareBuffers.insert(buffer, at: 0) }
            buffer = [UInt8](unsafeUninitializedCapacity: size + 1) { _, count in count = size + 1 }
            // Normally the next read finds the end; a file that grew meanwhile goes on in big buffers.
            smallFileSize = nil
        } else {
            if buffer.count == Self.bufferSize { spareBuffers.insert(buffer, at: 0) }
            buffer = spareBuffers.count > 1 ? spareBuffers.removeLast()
                : [UInt8](unsafeUninitializedCapacity: Self.bufferSize) { _, count in count = Self.bufferSize }
        }
        while true {
            let n = buffer.withUnsafeMutableBytes { raw in read(fd, raw.baseAddress!, raw.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                let why = String(cString: strerror(code))
                guard skipUnreadable else { throw RepositoryError.unreadable(inputs[current].name, code: code) }
                skipped[current] = why
                return 0
            }
            end = n
            bytesRead[current] += n
            progress(n)
            return n
        }
    }

    private func closeCurrent() {
        if fd >= 0, case .path = inputs[current] { close(fd) }
        fd = -1
        start = 0
        end = 0
    }
}
