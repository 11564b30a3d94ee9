import Foundation

/// Reads tree entries in exactly the form ``TreeEntryJSONWriter`` writes them: keys in that order,
/// no white space, the writer's escapes only, integers without sign tricks or leading zeros,
/// valid UTF-8. Anything else — an entry with extended attributes, JSON another encoder laid
/// out, damage — makes it give up (nil), and the caller decodes with `JSONDecoder`, which then
/// accepts or rejects as it always did. So what this accepts is a strict subset of what
/// `JSONDecoder` accepts, with the same meaning.
///
/// Why: `JSONDecoder` took 0.22 s for a 20,000-file tree, the largest part of a re-backup that
/// reads its parent.
struct TreeEntryJSONParser {
    private let bytes: UnsafeRawBufferPointer
    private var at = 0

    private init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// The entries of `json`, a comma-separated run of entry objects (an array without its
    /// brackets); nil unless every byte is read as the writer writes it.
    static func entries(in json: ArraySlice<UInt8>) -> [TreeEntry]? {
        json.withUnsafeBytes { raw in
            var parser = TreeEntryJSONParser(raw)
            var entries: [TreeEntry] = []
            while true {
                guard let entry = parser.entry() else { return nil }
                entries.append(entry)
                if parser.at == raw.count { return entries }
                guard parser.take(UInt8(ascii: ",")) else { return nil }
            }
        }
    }

    private mutating func entry() -> TreeEntry? {
        guard take(UInt8(ascii: "{")) else { return nil }
        var chunks: ChunkList?
        if take(#""chunks":"#) {
            if take(#"{"lists":"#) {
                guard let text = string(), let bytes = Data(base64Encoded: text).map({ [UInt8]($0) }),
                      let lists = ChunkList.decodedLists(bytes), take(UInt8(ascii: "}")) else { return nil }
                chunks = ChunkList(lists: lists)
            } else {
                guard let text = string(), let bytes = Data(base64Encoded: text).map({ [UInt8]($0) }),
                      let refs = try? ChunkListCodec.decode(bytes, what: "chunk list") else { return nil }
                chunks = ChunkList(refs)
            }
            guard take(UInt8(ascii: ",")) else { return nil }
        }
        guard take(#""ctimeNanoseconds":"#), let ctime = signed(), take(#","device":"#), let device = unsigned(),
              take(#","gid":"#), let gid = unsigned().flatMap(UInt32.init(exactly:)), take(#","inode":"#), let inode = unsigned(),
              take(#","mode":"#), let mode = unsigned().flatMap(UInt32.init(exactly:)),
              take(#","mtimeNanoseconds":"#), let mtime = signed(), take(#","path":"#), let path = string(),
              take(#","size":"#), let size = signed(), take(UInt8(ascii: ",")) else { return nil }
        var target: String?
        if take(#""symlinkTarget":"#) {
            guard let text = string(), take(UInt8(ascii: ",")) else { return nil }
            target = text
        }
        guard take(#""type":"#), let typeName = string(), let type = EntryType(rawValue: typeName),
              take(#","uid":"#), let uid = unsigned().flatMap(UInt32.init(exactly:)), take(UInt8(ascii: "}")) else { return nil }
        return TreeEntry(path: path, type: type, mode: mode, uid: uid, gid: gid, mtimeNanoseconds: mtime,
                         ctimeNanoseconds: ctime, inode: inode, device: device, size: size, symlinkTarget: target,
                         chunks: chunks)
    }

    private mutating func take(_ byte: UInt8) -> Bool {
        guard at < bytes.count, bytes[at] == byte else { return false }
        at += 1
        return true
    }

    private mutating func take(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - at >= count,
              memcmp(bytes.baseAddress! + at, literal.utf8Start, count) == 0 else { return false }
        at += count
        return true
    }

    /// Digits without a leading zero (or one zero), as UInt64.
    private mutating func unsigned() -> UInt64? {
        let start = at
        var value: UInt64 = 0
        while at < bytes.count, case let byte = bytes[at], byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow, !carry else { return nil }
            value = sum
            at += 1
        }
        guard at > start, at - start == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
        return value
    }

    /// An optional minus (not before a zero) and ``unsigned()``, as Int64.
    private mutating func signed() -> Int64? {
        let negative = take(UInt8(ascii: "-"))
        if negative, at < bytes.count, bytes[at] == UInt8(ascii: "0") { return nil }
        guard let magnitude = unsigned() else { return nil }
        if negative { return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil }
        return Int64(exactly: magnitude)
    }

    /// A string with only the writer's escapes, valid UTF-8.
    private mutating func string() -> String? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        var text: [UInt8] = []
        while at < bytes.count {
            let byte = bytes[at]
            at += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(validating: text, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard at < bytes.count else { return nil }
                let escaped = bytes[at]
                at += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(escaped)
                case UInt8(ascii: "b"): text.append(0x08)
                case UInt8(ascii: "f"): text.append(0x0C)
                case UInt8(ascii: "n"): text.append(0x0A)
                case UInt8(ascii: "r"): text.append(0x0D)
                case UInt8(ascii: "t"): text.append(0x09)
                case UInt8(ascii: "u"):
                    // Only the writer's \u00XX for control characters.
                    guard bytes.count - at >= 4, bytes[at] == UInt8(ascii: "0"), bytes[at + 1] == UInt8(ascii: "0"),
                          let high = Hex.value(bytes[at + 2]), high < 2, let low = Hex.value(bytes[at + 3]) else { return nil }
                    text.append(high << 4 | low)
                    at += 4
                default:
                    return nil
                }
            case 0x00..<0x20:
                return nil
            default:
                text.append(byte)
            }
        }
        return nil
    }
}
