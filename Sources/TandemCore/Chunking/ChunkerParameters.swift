/// How a tenant's data is cut into chunks.
///
/// `cdc` is FastCDC with normalized chunking (level 2): cut points depend on content, so an
/// insertion shifts only the chunks around it. `fixed` cuts every `size` bytes, which suits block
/// images whose writes stay aligned. The defaults were chosen by measurement; see the repository
/// format article (`Sources/TandemStore/TandemStore.docc`).
public enum ChunkerParameters: Sendable, Equatable, Codable, CustomStringConvertible {
    case cdc(minimum: Int, average: Int, maximum: Int)
    case fixed(size: Int)

    /// FastCDC with a 64 KiB average: small enough that scattered writes in an image store little,
    /// large enough that a 2 TiB image indexes in ~32 million entries.
    public static let defaultCDC = ChunkerParameters.cdc(minimum: 16 << 10, average: 64 << 10, maximum: 256 << 10)
    /// Fixed 4 MiB blocks for block images.
    public static let defaultFixed = ChunkerParameters.fixed(size: 4 << 20)

    /// The largest chunk these parameters can produce.
    public var maximumChunkSize: Int {
        switch self {
        case .cdc(_, _, let maximum): maximum
        case .fixed(let size): size
        }
    }

    /// Checks the sizes: powers of two for the CDC average, min < avg < max, all within 1 KiB...64 MiB.
    public func validate() throws(ChunkerParameterError) {
        let limit = 1 << 10 ... 64 << 20
        switch self {
        case .cdc(let minimum, let average, let maximum):
            guard limit.contains(minimum), limit.contains(average), limit.contains(maximum) else {
                throw .outOfRange(description)
            }
            guard average & (average - 1) == 0 else { throw .averageNotPowerOfTwo(average) }
            guard minimum < average, average < maximum else { throw .notOrdered(description) }
        case .fixed(let size):
            guard limit.contains(size) else { throw .outOfRange(description) }
        }
    }

    /// Parses `cdc`, `cdc:MIN/AVG/MAX` (sizes like `16K`, `1M`), `fixed` or `fixed:SIZE`.
    public init(parsing text: String) throws(ChunkerParameterError) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        switch parts.first {
        case "cdc":
            guard parts.count == 2 else { self = .defaultCDC; return }
            let sizes = parts[1].split(separator: "/").map(String.init)
            guard sizes.count == 3, let a = ByteSize.parse(sizes[0]), let b = ByteSize.parse(sizes[1]),
                  let c = ByteSize.parse(sizes[2]) else { throw .unparsable(text) }
            self = .cdc(minimum: a, average: b, maximum: c)
        case "fixed":
            guard parts.count == 2 else { self = .defaultFixed; return }
            guard let size = ByteSize.parse(parts[1]) else { throw .unparsable(text) }
            self = .fixed(size: size)
        default:
            throw .unparsable(text)
        }
        try validate()
    }

    public var description: String {
        switch self {
        case .cdc(let a, let b, let c):
            "cdc:\(ByteSize.format(a))/\(ByteSize.format(b))/\(ByteSize.format(c))"
        case .fixed(let size): "fixed:\(ByteSize.format(size))"
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try ChunkerParameters(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Why chunker parameters were refused.
public enum ChunkerParameterError: Error, Equatable, CustomStringConvertible {
    case unparsable(String)
    case outOfRange(String)
    case averageNotPowerOfTwo(Int)
    case notOrdered(String)

    public var description: String {
        switch self {
        case .unparsable(let text): "chunker '\(text)' is not cdc, cdc:MIN/AVG/MAX, fixed or fixed:SIZE"
        case .outOfRange(let text): "chunker '\(text)': every size must lie within 1K...64M"
        case .averageNotPowerOfTwo(let n): "chunker average \(n) is not a power of two"
        case .notOrdered(let text): "chunker '\(text)': sizes must satisfy min < avg < max"
        }
    }
}

/// Parses and formats byte sizes such as `64K`, `4M`, `1G` (binary units).
public enum ByteSize {
    /// `"64K"` -> 65536; plain digits are bytes. Returns nil for anything else.
    public static func parse(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 10, "M": 20, "G": 30, "T": 40]
        var digits = text.uppercased()
        if digits.hasSuffix("IB") { digits.removeLast(2) } else if digits.hasSuffix("B") { digits.removeLast() }
        var shift = 0
        if let last = digits.last, let s = units[last] { shift = s; digits.removeLast() }
        guard !digits.isEmpty, digits.allSatisfy(\.isNumber), let value = Int(digits),
              value <= (Int.max >> shift) else { return nil }
        return value << shift
    }

    /// 65536 -> `"64K"`; sizes that are not whole units print in bytes.
    public static func format(_ value: Int) -> String {
        for (shift, unit) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] where value >= 1 << shift && value % (1 << shift) == 0 {
            return "\(value >> shift)\(unit)"
        }
        return "\(value)"
    }
}
