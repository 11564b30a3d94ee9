import CZlib

/// CRC-32 (ISO 3309, the polynomial ZIP, gzip and PNG use), computed by zlib and fed in pieces.
///
/// A checksum that archive readers verify, not a protection: `dump --format zip` stores it
/// for each member so `unzip -t` and Python's `zipfile` can check what they extract.
public struct CRC32: Sendable, Equatable {
    public private(set) var value: UInt32 = 0

    public init() {}

    /// The CRC-32 of `bytes`.
    public init(of bytes: [UInt8]) {
        update(bytes)
    }

    /// Extends the checksum over `bytes`.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        value = UInt32(crc32_z(UInt(value), base.assumingMemoryBound(to: UInt8.self), bytes.count))
    }

    /// Extends the checksum over `bytes`.
    public mutating func update(_ bytes: some Collection<UInt8>) {
        if bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) == nil {
            Array(bytes).withUnsafeBytes { update($0) }
        }
    }
}
