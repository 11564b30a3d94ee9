/// How a tenant's chunks are compressed before encryption. A chunk that does not shrink is
/// stored raw whatever this says.
public enum Compression: Sendable, Equatable, Codable, CustomStringConvertible {
    case none
    case lz4
    case zstd(level: Int)

    /// zstd level 3. Compressible chunks are compressed in 4 MiB groups (``ChunkGroupBuilder``),
    /// where level 3's larger tables pay: the standard image's chunks take 832 MiB at level 3
    /// against 860 at level 1 (one chunk at a time at level 1 they took 880; see the repository
    /// format article).
    public static let `default` = Compression.zstd(level: 3)

    /// Parses `none`, `lz4`, `zstd` or `zstd:N` (N in 1...19).
    public init(parsing text: String) throws(CompressionParseError) {
        switch text {
        case "none": self = .none
        case "lz4": self = .lz4
        case "zstd": self = .default
        default:
            guard text.hasPrefix("zstd:"), let level = Int(text.dropFirst(5)) else { throw .unparsable(text) }
            guard (1...19).contains(level) else { throw .levelOutOfRange(level) }
            self = .zstd(level: level)
        }
    }

    public var description: String {
        switch self {
        case .none: "none"
        case .lz4: "lz4"
        case .zstd(let level): "zstd:\(level)"
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try Compression(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Why a compression setting was refused.
public enum CompressionParseError: Error, Equatable, CustomStringConvertible {
    case unparsable(String)
    case levelOutOfRange(Int)

    public var description: String {
        switch self {
        case .unparsable(let text): "compression '\(text)' is not none, lz4, zstd or zstd:N"
        case .levelOutOfRange(let level): "zstd level \(level) is outside 1...19"
        }
    }
}

/// The codec a stored blob's payload actually used (one byte in the sealed blob header).
public enum StoredCodec: UInt8, Sendable, Codable {
    case raw = 0
    case lz4 = 1
    case zstd = 2
}
