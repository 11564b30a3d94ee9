import CZstd

/// One-shot zstd frame compression with reused `ZSTD_CCtx`/`ZSTD_DCtx`.
///
/// Frames produced by ``compress(_:)-(UnsafeRawBufferPointer)`` always record
/// their content size, and ``decompress(_:maxSize:)-(UnsafeRawBufferPointer,_)``
/// requires it: the size is checked against `maxSize` (and against the most
/// the input could possibly expand to) before any output is allocated, so
/// hostile input cannot trigger a huge allocation. Decoding never traps on
/// malformed bytes; every failure is a thrown ``CodecError``.
///
/// Not `Sendable`: the contexts are mutable, so create one codec per task.
public final class ZstdCodec {
    /// The compression level in use (clamped to zstd's supported range).
    public let level: Int32
    private let cctx: OpaquePointer
    private let dctx: OpaquePointer
    /// Reused output buffer for compression (sized to the largest bound seen).
    private var scratch: UnsafeMutableRawBufferPointer = .init(start: nil, count: 0)

    /// The most output one input byte can yield: an RLE block is 4 bytes
    /// (3-byte header + 1 byte) and regenerates at most 128 KiB.
    static let maxExpansionRatio = 1 << 15

    /// Creates a codec compressing at `level` (e.g. 1...19, or negative for
    /// the fast levels; out-of-range values are clamped).
    public init(level: Int32 = 3) {
        let clamped = Swift.min(Swift.max(level, ZSTD_minCLevel()), ZSTD_maxCLevel())
        self.level = clamped
        guard let c = ZSTD_createCCtx() else { fatalError("ZSTD_createCCtx: out of memory") }
        guard let d = ZSTD_createDCtx() else {
            ZSTD_freeCCtx(c)
            fatalError("ZSTD_createDCtx: out of memory")
        }
        cctx = c
        dctx = d
        let rc = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, clamped)
        precondition(ZSTD_isError(rc) == 0, "ZSTD_c_compressionLevel: \(Self.errorName(rc))")
        let rc2 = ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1)
        precondition(ZSTD_isError(rc2) == 0, "ZSTD_c_contentSizeFlag: \(Self.errorName(rc2))")
    }

    deinit {
        ZSTD_freeCCtx(cctx)
        ZSTD_freeDCtx(dctx)
        scratch.deallocate()
    }

    static func errorName(_ code: Int) -> String {
        String(cString: ZSTD_getErrorName(code))
    }

    /// Compresses `input` into a single zstd frame that records its content size.
    /// - Throws: ``CodecError/compressionFailed(_:)``.
    public func compress(_ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        guard ZSTD_isError(bound) == 0 else {
            throw CodecError.compressionFailed("input too large (\(input.count) bytes)")
        }
        if scratch.count < bound {
            scratch.deallocate()
            scratch = .allocate(byteCount: bound, alignment: 16)
        }
        // Reset the session so a previously failed call leaves no state behind.
        _ = ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only)
        var dummy: UInt8 = 0
        let written = withUnsafeMutablePointer(to: &dummy) { d in
            ZSTD_compress2(cctx, scratch.baseAddress!, bound, input.baseAddress ?? UnsafeRawPointer(d), input.count)
        }
        guard ZSTD_isError(written) == 0 else {
            throw CodecError.compressionFailed(Self.errorName(written))
        }
        return Array(UnsafeRawBufferPointer(start: scratch.baseAddress, count: written))
    }

    /// Compresses input that arrives in pieces into one frame recording `pledgedSize`, the exact
    /// number of bytes `produce` will feed (zstd refuses the frame otherwise). So a large input
    /// (a manifest's JSON) need never be whole in memory: the caller can produce it twice, once to
    /// count it and once into here.
    public func compress(pledgedSize: Int,
                         _ produce: (_ feed: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> [UInt8] {
        _ = ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only)
        defer { _ = ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only) }
        let pledged = ZSTD_CCtx_setPledgedSrcSize(cctx, UInt64(pledgedSize))
        guard ZSTD_isError(pledged) == 0 else { throw CodecError.compressionFailed(Self.errorName(pledged)) }
        // Reserved, not touched: only the pages the frame fills become resident.
        var frame: [UInt8] = []
        frame.reserveCapacity(ZSTD_compressBound(pledgedSize))
        let piece = UnsafeMutableRawBufferPointer.allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 16)
        defer { piece.deallocate() }
        func drive(_ input: UnsafeRawBufferPointer, ending: Bool) throws {
            var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
            while true {
                var target = ZSTD_outBuffer(dst: piece.baseAddress, size: piece.count, pos: 0)
                let left = ZSTD_compressStream2(cctx, &target, &source, ending ? ZSTD_e_end : ZSTD_e_continue)
                guard ZSTD_isError(left) == 0 else { throw CodecError.compressionFailed(Self.errorName(left)) }
                frame.append(contentsOf: UnsafeRawBufferPointer(rebasing: piece[..<target.pos]))
                if ending ? left == 0 : source.pos == source.size { return }
            }
        }
        try produce { try drive($0, ending: false) }
        try drive(UnsafeRawBufferPointer(start: nil, count: 0), ending: true)
        return frame
    }

    /// Compresses `input` (array convenience).
    public func compress(_ input: [UInt8]) throws -> [UInt8] {
        try input.withUnsafeBytes { try compress($0) }
    }

    /// Reads the content size a frame header declares, without decoding.
    /// - Throws: ``CodecError/decompressionFailed(_:)`` if the header is
    ///   malformed, truncated, or does not record a size.
    public static func declaredContentSize(_ frame: UnsafeRawBufferPointer) throws -> UInt64 {
        guard let base = frame.baseAddress, frame.count > 0 else {
            throw CodecError.truncatedInput("empty zstd input")
        }
        let size = ZSTD_getFrameContentSize(base, frame.count)
        if size == ZSTD_CONTENTSIZE_ERROR {
            throw CodecError.decompressionFailed("not a zstd frame or truncated frame header")
        }
        if size == ZSTD_CONTENTSIZE_UNKNOWN {
            throw CodecError.decompressionFailed("frame does not declare its content size")
        }
        return size
    }

    /// Decompresses one frame of at most `maxSize` bytes.
    ///
    /// The declared content size is validated first: frames without one,
    /// declaring more than `maxSize`, or declaring more than the input could
    /// expand to are rejected before allocating.
    /// - Throws: ``CodecError/sizeLimitExceeded(limit:)`` when the frame
    ///   declares more than `maxSize`; ``CodecError/truncatedInput(_:)`` for
    ///   empty input; ``CodecError/decompressionFailed(_:)`` otherwise.
    public func decompress(_ input: UnsafeRawBufferPointer, maxSize: Int) throws -> [UInt8] {
        precondition(maxSize >= 0, "ZstdCodec.decompress: negative maxSize")
        let declared = try Self.checkedContentSize(input, maxSize: maxSize)
        let size = Int(declared)
        return try [UInt8](unsafeUninitializedCapacity: size) { out, initialized in
            var dummy: UInt8 = 0
            let got = withUnsafeMutablePointer(to: &dummy) { d in
                ZSTD_decompressDCtx(dctx, UnsafeMutableRawPointer(out.baseAddress ?? d), size, input.baseAddress!, input.count)
            }
            guard ZSTD_isError(got) == 0 else {
                throw CodecError.decompressionFailed(Self.errorName(got))
            }
            guard got == size else {
                throw CodecError.decompressionFailed("frame produced \(got) bytes, header declared \(size)")
            }
            initialized = size
        }
    }

    /// Decompresses one frame that records its content size without ever holding all of it:
    /// `body` receives the output in order, in pieces of at most `pieceSize` bytes, each valid
    /// only during the call. The same checks as the one-shot
    /// ``decompress(_:maxSize:)-(UnsafeRawBufferPointer,_)`` apply first, and the frame must
    /// then produce exactly its declared size and end where `input` ends. The decoder needs a
    /// window of its own (at most the frame's window size), not the whole output.
    public func decompress(_ input: UnsafeRawBufferPointer, maxSize: Int, pieceSize: Int = 128 << 10,
                           into body: (UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(maxSize >= 0 && pieceSize > 0, "ZstdCodec.decompress: bad sizes")
        let declared = try Self.checkedContentSize(input, maxSize: maxSize)
        try decodeStream(input, expected: declared, pieceSize: pieceSize, into: body)
    }

    /// Decompresses one frame whose size the caller knows (a frame written by
    /// ``ZstdFrameWriter`` declares none): it must produce exactly `exactSize` bytes and end where
    /// `input` ends, and a size it does declare must be that one. `body` receives the output in
    /// pieces as in ``decompress(_:maxSize:pieceSize:into:)``.
    public func decompress(_ input: UnsafeRawBufferPointer, exactSize: Int, pieceSize: Int = 128 << 10,
                           into body: (UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(exactSize >= 0 && pieceSize > 0, "ZstdCodec.decompress: bad sizes")
        guard let base = input.baseAddress, input.count > 0 else { throw CodecError.truncatedInput("empty zstd input") }
        let declared = ZSTD_getFrameContentSize(base, input.count)
        if declared == ZSTD_CONTENTSIZE_ERROR {
            throw CodecError.decompressionFailed("not a zstd frame or truncated frame header")
        }
        guard declared == ZSTD_CONTENTSIZE_UNKNOWN || declared == UInt64(exactSize) else {
            throw CodecError.decompressionFailed("frame declares \(declared) bytes, expected \(exactSize)")
        }
        try decodeStream(input, expected: UInt64(exactSize), pieceSize: pieceSize, into: body)
    }

    /// Decompresses one frame whose output must be exactly `declared` bytes, into `body` in pieces.
    private func decodeStream(_ input: UnsafeRawBufferPointer, expected declared: UInt64, pieceSize: Int,
                              into body: (UnsafeRawBufferPointer) throws -> Void) throws {
        _ = ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only)
        defer { _ = ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only) }
        let piece = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.min(pieceSize, Swift.max(1, Int(declared))), alignment: 16)
        defer { piece.deallocate() }
        var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var produced: UInt64 = 0
        while true {
            var target = ZSTD_outBuffer(dst: piece.baseAddress, size: piece.count, pos: 0)
            let hint = ZSTD_decompressStream(dctx, &target, &source)
            guard ZSTD_isError(hint) == 0 else {
                throw CodecError.decompressionFailed(Self.errorName(hint))
            }
            produced += UInt64(target.pos)
            guard produced <= declared else {
                throw CodecError.decompressionFailed("frame produces more than the \(declared) bytes expected")
            }
            if target.pos > 0 { try body(UnsafeRawBufferPointer(rebasing: piece[..<target.pos])) }
            if hint == 0 { break }
            // Input used up and no output room needed: the frame is cut short.
            if source.pos == source.size, target.pos < target.size {
                throw CodecError.decompressionFailed("frame is truncated")
            }
        }
        guard produced == declared else {
            throw CodecError.decompressionFailed("frame produced \(produced) bytes, expected \(declared)")
        }
        guard source.pos == source.size else {
            throw CodecError.decompressionFailed("\(source.size - source.pos) bytes follow the frame")
        }
    }

    /// The content size `input`'s frame declares, refused when it is above `maxSize` or above
    /// what the input could possibly expand to.
    private static func checkedContentSize(_ input: UnsafeRawBufferPointer, maxSize: Int) throws -> UInt64 {
        let declared = try declaredContentSize(input)
        guard declared <= UInt64(maxSize) else {
            throw CodecError.sizeLimitExceeded(limit: maxSize)
        }
        let (possible, overflow) = UInt64(input.count).multipliedReportingOverflow(by: UInt64(maxExpansionRatio))
        guard overflow || declared <= possible else {
            throw CodecError.decompressionFailed(
                "declared content size \(declared) is impossible for \(input.count) input bytes")
        }
        return declared
    }

    /// Decompresses `input` (array convenience).
    public func decompress(_ input: [UInt8], maxSize: Int) throws -> [UInt8] {
        try input.withUnsafeBytes { try decompress($0, maxSize: maxSize) }
    }
}
