/// POSIX pax archives (ustar blocks plus extended headers), as GNU tar, bsdtar and Python's
/// tarfile read them: the headers only, pure; the archive's writer streams each member's
/// bytes after its header and pads them to a block.
///
/// A field that ustar cannot hold exactly (a name over 100 bytes or not UTF-8, a link target
/// over 100 bytes, a size of 8 GiB or more, an owner over 2097151, a time with nanoseconds or
/// before 1970) goes into the member's pax header; names are the file's bytes, with
/// `hdrcharset=BINARY` when they are not UTF-8. Extended attributes are `SCHILY.xattr.NAME`.
public enum PaxTar {
    public static let blockSize = 512
    /// The two zero blocks that end an archive.
    public static let end = [UInt8](repeating: 0, count: 1024)

    /// Zero bytes that pad `size` bytes of content to a whole block.
    public static func padding(after size: Int64) -> Int { Int((Int64(blockSize) - size % Int64(blockSize)) % Int64(blockSize)) }

    /// The blocks that precede a member's bytes: its pax header (when a field needs one) and
    /// its ustar header.
    public static func header(for member: ArchiveMember) -> [UInt8] {
        var path = member.path
        if member.kind == .directory, path.last != UInt8(ascii: "/") { path.append(UInt8(ascii: "/")) }
        let size = member.kind == .file ? member.size : 0
        let seconds = member.mtimeNanoseconds >= 0 ? member.mtimeNanoseconds / 1_000_000_000
            : (member.mtimeNanoseconds - 999_999_999) / 1_000_000_000
        let nanoseconds = member.mtimeNanoseconds - seconds * 1_000_000_000
        var records: [(String, [UInt8])] = []
        let binary = String(validating: path, as: UTF8.self) == nil || String(validating: member.linkTarget, as: UTF8.self) == nil
        if binary { records.append(("hdrcharset", Array("BINARY".utf8))) }
        if path.count > 100 || binary || path.contains(0) { records.append(("path", path)) }
        if member.linkTarget.count > 100 || (binary && !member.linkTarget.isEmpty) { records.append(("linkpath", member.linkTarget)) }
        if size >= 0o77777777777 { records.append(("size", Array(String(size).utf8))) }
        if member.uid > 0o7777777 { records.append(("uid", Array(String(member.uid).utf8))) }
        if member.gid > 0o7777777 { records.append(("gid", Array(String(member.gid).utf8))) }
        if nanoseconds != 0 || seconds < 0 || seconds > 0o77777777777 {
            let fraction = String(nanoseconds + 1_000_000_000).dropFirst()
            records.append(("mtime", Array("\(seconds).\(fraction)".utf8)))
        }
        for (name, value) in member.xattrs { records.append(("SCHILY.xattr.\(name)", value)) }
        var out: [UInt8] = []
        if !records.isEmpty {
            let data = records.flatMap { record($0.0, $0.1) }
            let base = path.split(separator: UInt8(ascii: "/")).last.map(Array.init) ?? []
            let name = Array("PaxHeaders/".utf8) + base.prefix(89).filter { $0 >= 0x20 && $0 < 0x7F }
            out += ustar(name: name, type: UInt8(ascii: "x"), mode: 0o644, uid: 0, gid: 0, size: Int64(data.count), mtime: 0, link: [])
            out += data
            out += [UInt8](repeating: 0, count: padding(after: Int64(data.count)))
        }
        let type: UInt8 = switch member.kind {
        case .file: UInt8(ascii: "0")
        case .directory: UInt8(ascii: "5")
        case .symlink: UInt8(ascii: "2")
        case .hardLink: UInt8(ascii: "1")
        }
        out += ustar(name: Array(path.prefix(100)), type: type, mode: member.mode & 0o7777, uid: member.uid, gid: member.gid,
                     size: size, mtime: seconds, link: Array(member.linkTarget.prefix(100)))
        return out
    }

    /// One pax record: `LENGTH KEY=VALUE\n`, LENGTH counting the whole record, its own digits too.
    static func record(_ key: String, _ value: [UInt8]) -> [UInt8] {
        let body = 1 + key.utf8.count + 1 + value.count + 1
        var length = body + String(body).count
        if String(length).count != String(body).count { length = body + String(length).count }
        return Array("\(length) \(key)=".utf8) + value + [UInt8(ascii: "\n")]
    }

    /// A ustar header block; a number that does not fit its field is written as 0 (the pax
    /// header carries it).
    static func ustar(name: [UInt8], type: UInt8, mode: UInt32, uid: UInt32, gid: UInt32, size: Int64, mtime: Int64, link: [UInt8]) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: blockSize)
        func put(_ bytes: [UInt8], at offset: Int, width: Int) {
            for (index, byte) in bytes.prefix(width).enumerated() { block[offset + index] = byte }
        }
        func octal(_ value: Int64, at offset: Int, width: Int) {
            let digits = String(value, radix: 8)
            let text = value >= 0 && digits.count < width ? String(repeating: "0", count: width - 1 - digits.count) + digits
                : String(repeating: "0", count: width - 1)
            put(Array(text.utf8), at: offset, width: width - 1)
        }
        put(name.map { $0 == 0 ? UInt8(ascii: "_") : $0 }, at: 0, width: 100)
        octal(Int64(mode), at: 100, width: 8)
        octal(Int64(uid), at: 108, width: 8)
        octal(Int64(gid), at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(mtime, at: 136, width: 12)
        block[156] = type
        put(link.map { $0 == 0 ? UInt8(ascii: "_") : $0 }, at: 157, width: 100)
        put(Array("ustar\u{0}00".utf8), at: 257, width: 8)
        put(Array(repeating: UInt8(ascii: " "), count: 8), at: 148, width: 8)
        let sum = block.reduce(0) { $0 + Int64($1) }
        octal(sum, at: 148, width: 7)
        block[154] = 0
        block[155] = UInt8(ascii: " ")
        return block
    }
}
