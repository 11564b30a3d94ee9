import CZstd

/// Reads one zstd frame's output on demand, as much as the caller asks for at a time, so a
/// reader that wants a few slices of a large frame holds only zstd's window and its own
/// buffers, never the whole output. The caller states the output's exact size (a frame from
/// ``ZstdFrameWriter`` declares none; a size it does declare must match); the frame must
/// produce exactly that and end where the input ends, or a read throws.
///
/// Not `Sendable`: one per task.
public final class ZstdFrameReader {
    private let dctx: OpaquePointer
    private let input: [UInt8]
    private var position: Int
    /// Where the frame must end in `input`.
    private let end: Int
    /// The output's exact length.
    public let size: Int
    /// Output bytes read so far.
    public private(set) var produced = 0
    private var frameEnded = false

    /// A reader of the frame in `input[start..<end]` (`end` nil: to the end of `input`).
    /// - Throws: ``CodecError/decompressionFailed(_:)`` for a bad header or a declared size
    ///   other than `exactSize`.
    public init(_ input: [UInt8], from start: Int, to end: Int? = nil, exactSize: Int) throws {
        let end = end ?? input.count
        precondition(start >= 0 && start <= end && end <= input.count && exactSize >= 0, "ZstdFrameReader: bad bounds")
        if end == start { throw CodecError.truncatedInput("empty zstd input") }
        let declared = input.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress! + start, end - start) }
        if declared == ZSTD_CONTENTSIZE_ERROR { throw CodecError.decompressionFailed("not a zstd frame or truncated frame header") }
        guard declared == ZSTD_CONTENTSIZE_UNKNOWN || declared == UInt64(exactSize) else {
            throw CodecError.decompressionFailed("frame declares \(declared) bytes, expected \(exactSize)")
        }
        guard let d = ZSTD_createDCtx() else { fatalError("ZSTD_createDCtx: out of memory") }
        dctx = d
        self.input = input
        self.end = end
        position = start
        size = exactSize
    }

    deinit { ZSTD_freeDCtx(dctx) }

    /// Fills `out` with the next output bytes (fewer only at the end); returns how many.
    public func read(into out: UnsafeMutableRawBufferPointer) throws -> Int {
        let wanted = min(out.count, size - produced)
        var filled = 0
        while filled < wanted {
            let (hint, consumed, written) = input.withUnsafeBytes { raw -> (Int, Int, Int) in
                var source = ZSTD_inBuffer(src: raw.baseAddress! + position, size: end - position, pos: 0)
                var target = ZSTD_outBuffer(dst: out.baseAddress! + filled, size: wanted - filled, pos: 0)
                let hint = ZSTD_decompressStream(dctx, &target, &source)
                return (hint, source.pos, target.pos)
            }
            guard ZSTD_isError(hint) == 0 else { throw CodecError.decompressionFailed(ZstdCodec.errorName(hint)) }
            position += consumed
            filled += written
            produced += written
            if hint == 0 {
                frameEnded = true
                break
            }
            if consumed == 0 && written == 0 { throw CodecError.decompressionFailed("frame is truncated") }
        }
        if produced == size { try finishFrame() }
        guard filled == wanted else {
            throw CodecError.decompressionFailed("frame ended after \(produced) of \(size) bytes")
        }
        return filled
    }

    /// Once all output is read: the frame must end here, with no input left over.
    private func finishFrame() throws {
        if !frameEnded {
            // The last block may still owe its end mark: drive with no room for output.
            var spare: UInt8 = 0
            let (hint, consumed, written) = withUnsafeMutableBytes(of: &spare) { spareBytes in
                input.withUnsafeBytes { raw -> (Int, Int, Int) in
                    var source = ZSTD_inBuffer(src: raw.baseAddress! + position, size: end - position, pos: 0)
                    var target = ZSTD_outBuffer(dst: spareBytes.baseAddress, size: 1, pos: 0)
                    let hint = ZSTD_decompressStream(dctx, &target, &source)
                    return (hint, source.pos, target.pos)
                }
            }
            guard ZSTD_isError(hint) == 0 else { throw CodecError.decompressionFailed(ZstdCodec.errorName(hint)) }
            position += consumed
            guard written == 0 else { throw CodecError.decompressionFailed("frame produces more than the \(size) bytes expected") }
            guard hint == 0 else { throw CodecError.decompressionFailed("frame does not end after \(size) bytes") }
            frameEnded = true
        }
        guard position == end else {
            throw CodecError.decompressionFailed("\(end - position) bytes follow the frame")
        }
    }
}
