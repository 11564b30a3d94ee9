import CZstd

/// zstd compression of many small inputs against one prepared dictionary (a `ZSTD_CDict`),
/// for studies of what a shared dictionary would gain on small chunks (`tandem-bench
/// compression`). The repository format does not use dictionaries.
///
/// Not `Sendable`: the context is mutable, so create one per task.
public final class ZstdDictionaryCompressor {
    /// The compression level in use.
    public let level: Int32
    private let cctx: OpaquePointer
    private let cdict: OpaquePointer?
    private var scratch: [UInt8] = []

    /// Prepares `dictionary` (raw content; empty: compress without one) at `level`.
    /// - Throws: ``CodecError/compressionFailed(_:)`` when zstd cannot load it.
    public init(dictionary: [UInt8], level: Int32) throws {
        self.level = Swift.min(Swift.max(level, ZSTD_minCLevel()), ZSTD_maxCLevel())
        guard let context = ZSTD_createCCtx() else { throw CodecError.compressionFailed("ZSTD_createCCtx: out of memory") }
        cctx = context
        if dictionary.isEmpty {
            cdict = nil
        } else {
            let level = self.level
            guard let prepared = dictionary.withUnsafeBytes({ ZSTD_createCDict($0.baseAddress, $0.count, level) }) else {
                ZSTD_freeCCtx(context)
                throw CodecError.compressionFailed("ZSTD_createCDict refused a \(dictionary.count)-byte dictionary")
            }
            cdict = prepared
        }
    }

    deinit {
        ZSTD_freeCDict(cdict)
        ZSTD_freeCCtx(cctx)
    }

    /// The size of `input` compressed on its own (with the dictionary, if any).
    /// - Throws: ``CodecError/compressionFailed(_:)``.
    public func compressedSize(_ input: UnsafeRawBufferPointer) throws -> Int {
        let bound = ZSTD_compressBound(input.count)
        if scratch.count < bound { scratch = [UInt8](repeating: 0, count: bound) }
        let written = scratch.withUnsafeMutableBytes { out in
            if let cdict {
                ZSTD_compress_usingCDict(cctx, out.baseAddress, out.count, input.baseAddress, input.count, cdict)
            } else {
                ZSTD_compressCCtx(cctx, out.baseAddress, out.count, input.baseAddress, input.count, level)
            }
        }
        guard ZSTD_isError(written) == 0 else { throw CodecError.compressionFailed(ZstdCodec.errorName(written)) }
        return written
    }
}
