import CZstd

/// Builds one zstd frame from input that arrives in pieces, each piece compressed with the
/// earlier ones as context (zstd's window). The frame declares no content size (it is not
/// known when the frame starts), so its reader must know the size:
/// ``ZstdCodec/decompress(_:exactSize:pieceSize:into:)``.
///
/// zstd copies each piece into its window, so the caller may reuse a piece's memory as soon as
/// ``append(_:)`` returns. Memory: the window (`2^windowLog` bytes), level-dependent tables,
/// and the compressed bytes so far. Not `Sendable`: one per task.
public final class ZstdFrameWriter {
    /// The compression level in use (clamped to zstd's range).
    public let level: Int32
    private let cctx: OpaquePointer
    private let piece: UnsafeMutableRawBufferPointer
    private var frame: [UInt8]
    /// Bytes left in front of each frame for the caller's header (zero until it fills them).
    public let prefixLength: Int
    /// Bytes fed into the current frame.
    public private(set) var inputLength = 0

    /// Creates a writer at `level` whose back-references reach at most `2^windowLog` bytes.
    /// Each frame ``finish()`` returns starts with `prefixLength` zero bytes, room for the
    /// caller's header, so the frame never has to be copied behind one.
    public init(level: Int32, windowLog: Int32 = 20, prefixLength: Int = 0) {
        precondition(prefixLength >= 0, "ZstdFrameWriter: negative prefix")
        self.prefixLength = prefixLength
        frame = [UInt8](repeating: 0, count: prefixLength)
        let clamped = Swift.min(Swift.max(level, ZSTD_minCLevel()), ZSTD_maxCLevel())
        self.level = clamped
        guard let c = ZSTD_createCCtx() else { fatalError("ZSTD_createCCtx: out of memory") }
        cctx = c
        for (parameter, value) in [(ZSTD_c_compressionLevel, clamped), (ZSTD_c_windowLog, windowLog), (ZSTD_c_checksumFlag, 0)] {
            let rc = ZSTD_CCtx_setParameter(cctx, parameter, value)
            precondition(ZSTD_isError(rc) == 0, "ZSTD_CCtx_setParameter: \(ZstdCodec.errorName(rc))")
        }
        piece = .allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 16)
    }

    deinit {
        ZSTD_freeCCtx(cctx)
        piece.deallocate()
    }

    /// Bytes of compressed output so far (zstd holds back up to a block until it is full).
    public var outputLength: Int { frame.count - prefixLength }

    /// Compresses `input` into the current frame.
    /// - Throws: ``CodecError/compressionFailed(_:)``; the frame is then abandoned.
    public func append(_ input: UnsafeRawBufferPointer) throws {
        guard input.count > 0 else { return }
        try drive(input, ending: false)
        inputLength += input.count
    }

    /// Ends the frame and returns it (after the prefix); the writer starts a new, empty frame.
    public func finish() throws -> [UInt8] {
        try drive(UnsafeRawBufferPointer(start: nil, count: 0), ending: true)
        defer { reset() }
        return frame
    }

    /// Drops the current frame.
    public func reset() {
        _ = ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only)
        frame = [UInt8](repeating: 0, count: prefixLength)
        inputLength = 0
    }

    private func drive(_ input: UnsafeRawBufferPointer, ending: Bool) throws {
        var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        while true {
            var target = ZSTD_outBuffer(dst: piece.baseAddress, size: piece.count, pos: 0)
            let left = ZSTD_compressStream2(cctx, &target, &source, ending ? ZSTD_e_end : ZSTD_e_continue)
            guard ZSTD_isError(left) == 0 else {
                reset()
                throw CodecError.compressionFailed(ZstdCodec.errorName(left))
            }
            frame.append(contentsOf: UnsafeRawBufferPointer(rebasing: piece[..<target.pos]))
            if ending ? left == 0 : source.pos == source.size { return }
        }
    }
}
