import CLZ4

/// LZ4 block compression (`LZ4_compress_default` / `LZ4_decompress_safe`).
///
/// The block format does not store the original size: the caller must store
/// it and pass it to ``decompress(_:originalSize:)-(UnsafeRawBufferPointer,_)``.
/// Decoding never traps on malformed bytes; failures are thrown.
/// Stateless, so safe to call from any task.
public enum LZ4Codec {
    /// Largest input LZ4 accepts (`LZ4_MAX_INPUT_SIZE`, about 1.97 GiB).
    public static let maxInputSize = Int(LZ4_MAX_INPUT_SIZE)

    /// The most output one compressed byte can yield: each extra match-length
    /// byte adds at most 255 bytes. 256 leaves a margin.
    static let maxExpansionRatio = 256

    /// Compresses `input` into an LZ4 block.
    /// - Throws: ``CodecError/sizeLimitExceeded(limit:)`` above
    ///   ``maxInputSize``, ``CodecError/compressionFailed(_:)``.
    public static func compress(_ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        guard input.count <= maxInputSize else {
            throw CodecError.sizeLimitExceeded(limit: maxInputSize)
        }
        let bound = Int(LZ4_compressBound(Int32(input.count)))
        guard bound > 0 else { throw CodecError.compressionFailed("LZ4_compressBound failed") }
        return try withUnsafeTemporaryAllocation(byteCount: bound, alignment: 16) { dst in
            var dummy: CChar = 0
            let written = withUnsafeMutablePointer(to: &dummy) { d in
                LZ4_compress_default(
                    input.baseAddress?.assumingMemoryBound(to: CChar.self) ?? UnsafePointer(d),
                    dst.baseAddress!.assumingMemoryBound(to: CChar.self),
                    Int32(input.count), Int32(bound))
            }
            guard written > 0 else { throw CodecError.compressionFailed("LZ4_compress_default returned \(written)") }
            return Array(UnsafeRawBufferPointer(start: dst.baseAddress, count: Int(written)))
        }
    }

    /// Compresses `input` (array convenience).
    public static func compress(_ input: [UInt8]) throws -> [UInt8] {
        try input.withUnsafeBytes { try compress($0) }
    }

    /// Decompresses an LZ4 block that must expand to exactly `originalSize` bytes.
    /// - Throws: ``CodecError/invalidArgument(_:)`` for a negative size,
    ///   ``CodecError/sizeLimitExceeded(limit:)`` above ``maxInputSize``,
    ///   ``CodecError/truncatedInput(_:)`` for empty input, and
    ///   ``CodecError/decompressionFailed(_:)`` for malformed data, an
    ///   impossible size, or a length mismatch.
    public static func decompress(_ input: UnsafeRawBufferPointer, originalSize: Int) throws -> [UInt8] {
        guard originalSize >= 0 else {
            throw CodecError.invalidArgument("negative LZ4 original size \(originalSize)")
        }
        guard originalSize <= maxInputSize else {
            throw CodecError.sizeLimitExceeded(limit: maxInputSize)
        }
        guard let src = input.baseAddress, input.count > 0 else {
            throw CodecError.truncatedInput("empty LZ4 block")
        }
        guard input.count <= Int(Int32.max) else {
            throw CodecError.sizeLimitExceeded(limit: Int(Int32.max))
        }
        guard originalSize <= input.count * maxExpansionRatio + 64 else {
            throw CodecError.decompressionFailed(
                "original size \(originalSize) is impossible for \(input.count) compressed bytes")
        }
        return try [UInt8](unsafeUninitializedCapacity: originalSize) { out, initialized in
            var dummy: CChar = 0
            let got = withUnsafeMutablePointer(to: &dummy) { d in
                LZ4_decompress_safe(
                    src.assumingMemoryBound(to: CChar.self),
                    out.baseAddress.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: CChar.self) } ?? d,
                    Int32(input.count), Int32(originalSize))
            }
            guard got >= 0 else { throw CodecError.decompressionFailed("malformed LZ4 block (\(got))") }
            guard Int(got) == originalSize else {
                throw CodecError.decompressionFailed("LZ4 block produced \(got) bytes, expected \(originalSize)")
            }
            initialized = originalSize
        }
    }

    /// Decompresses `input` (array convenience).
    public static func decompress(_ input: [UInt8], originalSize: Int) throws -> [UInt8] {
        try input.withUnsafeBytes { try decompress($0, originalSize: originalSize) }
    }
}
