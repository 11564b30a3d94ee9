import CXXHash

/// XXH3-64 (xxHash 0.8, libxxhash): a 64-bit non-cryptographic checksum at memory speed.
///
/// Not for anything an adversary chooses: Tandem takes it of a chunk's plaintext as the chunk's
/// ID is computed and compares it with the plaintext the sealed blob decodes to, to catch a
/// codec, cipher or memory fault between the two (a random fault goes unseen with chance
/// 2^-64). Authenticity is the AEAD's job.
public struct Checksum64: Sendable, Hashable, CustomStringConvertible {
    public let value: UInt64

    /// The checksum of `bytes`.
    public init(of bytes: UnsafeRawBufferPointer) {
        value = XXH3_64bits(bytes.baseAddress, bytes.count)
    }

    /// The checksum of `bytes`.
    public init(of bytes: [UInt8]) {
        value = bytes.withUnsafeBytes { XXH3_64bits($0.baseAddress, $0.count) }
    }

    public var description: String { String(value, radix: 16) }
}
