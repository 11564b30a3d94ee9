/// Why stored bytes could not be decoded. Every decoder in Tandem throws this, never traps.
public enum FormatError: Error, Equatable, CustomStringConvertible {
    case badMagic(String)
    case unsupportedVersion(String, found: Int, supported: ClosedRange<Int>)
    case truncated(String)
    case corrupt(String, String)
    case authenticationFailed(String)

    public var description: String {
        switch self {
        case .badMagic(let what): "\(what): not a Tandem \(what) (bad magic)"
        case .unsupportedVersion(let what, let found, let supported):
            "\(what): format version \(found) is newer than this Tandem supports (\(supported.lowerBound)...\(supported.upperBound)); upgrade Tandem"
        case .truncated(let what): "\(what): truncated"
        case .corrupt(let what, let why): "\(what): corrupt (\(why))"
        case .authenticationFailed(let what): "\(what): fails authentication (tampered, or another key)"
        }
    }
}

/// Reads little-endian integers and byte runs from a buffer, checking every length first.
public struct ByteReader {
    private let bytes: [UInt8]
    public private(set) var offset = 0
    private let what: String

    public init(_ bytes: [UInt8], what: String) {
        self.bytes = bytes
        self.what = what
    }

    public var remaining: Int { bytes.count - offset }

    public mutating func take(_ count: Int) throws(FormatError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else { throw .truncated(what) }
        defer { offset += count }
        return bytes[offset ..< offset + count]
    }

    public mutating func uint8() throws(FormatError) -> UInt8 { try take(1).first! }

    public mutating func uint16() throws(FormatError) -> UInt16 { UInt16(try integer(2)) }

    public mutating func uint32() throws(FormatError) -> UInt32 { UInt32(try integer(4)) }

    public mutating func uint64() throws(FormatError) -> UInt64 { try integer(8) }

    private mutating func integer(_ width: Int) throws(FormatError) -> UInt64 {
        var value: UInt64 = 0
        for (index, byte) in try take(width).enumerated() { value |= UInt64(byte) << UInt64(8 * index) }
        return value
    }
}

/// Appends little-endian integers and byte runs.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    public mutating func append(_ data: some Sequence<UInt8>) { bytes.append(contentsOf: data) }
    public mutating func uint8(_ value: UInt8) { bytes.append(value) }
    public mutating func uint16(_ value: UInt16) { integer(UInt64(value), 2) }
    public mutating func uint32(_ value: UInt32) { integer(UInt64(value), 4) }
    public mutating func uint64(_ value: UInt64) { integer(value, 8) }

    private mutating func integer(_ value: UInt64, _ width: Int) {
        for index in 0..<width { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(8 * index))) }
    }
}
