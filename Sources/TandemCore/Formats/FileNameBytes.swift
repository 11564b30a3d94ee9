/// Linux file names (and symlink targets) are bytes, not text: `caf\xe9.txt` is a valid name
/// that no UTF-8 decoding can carry. Tree manifests keep names in Swift strings, so every name
/// is mapped into a string losslessly and back:
///
/// - a byte that starts no valid UTF-8 sequence becomes the private-use scalar
///   U+10FD00 + byte (U+10FD80 … U+10FDFF, since only bytes ≥ 0x80 can be invalid);
/// - a valid sequence that decodes to a scalar in that range is escaped byte by byte the same
///   way, so that every string this makes decodes to exactly the bytes it came from;
/// - everything else (all valid UTF-8 names in practice) is the name itself, unchanged.
///
/// This is the same idea as Python's `surrogateescape` (which Borg uses), moved to plane 16's
/// private-use area because a Swift string cannot hold a lone surrogate. `/` and NUL are ASCII
/// and never escaped, so the mapping keeps path structure.
public enum FileNameBytes {
    /// U+10FD00: byte `b` is carried as U+10FD00 + b.
    static let escapeBase: UInt32 = 0x10FD00
    static let escapes: ClosedRange<UInt32> = 0x10FD80...0x10FDFF

    /// The string that carries `bytes`; ``bytes(_:)`` gives them back exactly.
    public static func string<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        // Fast path: valid UTF-8 with no 4-byte sequence starting F4 (where the escapes live).
        if !bytes.contains(0xF4), let text = String(validating: bytes, as: UTF8.self) { return text }
        let input = Array(bytes)
        var scalars = String.UnicodeScalarView()
        var at = 0
        while at < input.count {
            if let (scalar, length) = decode(input, at), !escapes.contains(scalar.value) {
                scalars.append(scalar)
                at += length
            } else if let (_, length) = decode(input, at) {
                for byte in input[at ..< at + length] { scalars.append(Unicode.Scalar(escapeBase + UInt32(byte))!) }
                at += length
            } else {
                scalars.append(Unicode.Scalar(escapeBase + UInt32(input[at]))!)
                at += 1
            }
        }
        return String(scalars)
    }

    /// The bytes `text` carries: escapes back to their bytes, everything else as UTF-8.
    public static func bytes(_ text: String) -> [UInt8] {
        if !text.utf8.contains(0xF4) { return Array(text.utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if escapes.contains(scalar.value) {
                out.append(UInt8(scalar.value - escapeBase))
            } else {
                out.append(contentsOf: String(scalar).utf8)
            }
        }
        return out
    }

    /// A form fit to print: escaped bytes as `\xNN`, the rest as it is.
    public static func display(_ text: String) -> String {
        guard text.utf8.contains(0xF4) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if escapes.contains(scalar.value) {
                let byte = UInt8(scalar.value - escapeBase)
                out += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// One well-formed UTF-8 sequence at `at` (no overlongs, surrogates or values past
    /// U+10FFFF), or nil.
    private static func decode(_ bytes: [UInt8], _ at: Int) -> (Unicode.Scalar, Int)? {
        let lead = bytes[at]
        let length: Int
        let lowest: UInt32
        var value: UInt32
        switch lead {
        case 0x00...0x7F: return (Unicode.Scalar(lead), 1)
        case 0xC2...0xDF: length = 2; lowest = 0x80; value = UInt32(lead & 0x1F)
        case 0xE0...0xEF: length = 3; lowest = 0x800; value = UInt32(lead & 0x0F)
        case 0xF0...0xF4: length = 4; lowest = 0x10000; value = UInt32(lead & 0x07)
        default: return nil
        }
        guard at + length <= bytes.count else { return nil }
        for byte in bytes[at + 1 ..< at + length] {
            guard byte & 0xC0 == 0x80 else { return nil }
            value = value << 6 | UInt32(byte & 0x3F)
        }
        guard value >= lowest, let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }
}
