import TandemCodecs

/// ZIP archives (PKWARE APPNOTE 6.3) written in one pass to a stream that cannot seek, as
/// Python's `zipfile`, Info-ZIP `unzip` and bsdtar read them: the headers only, pure; the
/// archive's writer streams each member's bytes after its local header.
///
/// Members are stored (method 0: a snapshot's chunks are already compressed in the repository,
/// and a dump is for reading back, not for storage). Each local header has bit 3 set, so the
/// CRC-32, known only once the bytes are out, follows them in a data descriptor; the central
/// directory at the end repeats everything. A size or offset of 4 GiB or more, or more than
/// 65,535 members, uses the ZIP64 fields; names are the file's bytes, flagged UTF-8 (bit 11)
/// when they are. Owners go in the Info-ZIP Unix field (`ux`), the mtime in the extended
/// timestamp (`UT`) beside the DOS time, the mode in the external attributes; a symlink's
/// bytes are its target. ZIP has no hard links (a linked file is stored again) and no xattrs.
public struct ZipArchive: Sendable {
    /// When ZIP64 fields are written.
    public enum Zip64: Sendable {
        /// Only where a value does not fit the 32-bit (or 16-bit) field.
        case whenNeeded
        /// For every member and the end record: what a reader must handle for the 4 GiB files
        /// a test cannot afford to write.
        case always
    }

    /// A member whose local header is out and whose descriptor is not.
    private struct Open {
        var member: ArchiveMember
        var offset: UInt64
        var zip64: Bool
    }

    private let zip64: Zip64
    /// Bytes of the archive so far, the promised bytes of an open member included.
    public private(set) var offset: UInt64 = 0
    private var open: Open?
    private var centralDirectory: [UInt8] = []
    private var members = 0

    public init(zip64: Zip64 = .whenNeeded) {
        self.zip64 = zip64
    }

    static let localSignature: UInt32 = 0x0403_4B50
    static let descriptorSignature: UInt32 = 0x0807_4B50
    static let centralSignature: UInt32 = 0x0201_4B50
    static let zip64EndSignature: UInt32 = 0x0606_4B50
    static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    static let endSignature: UInt32 = 0x0605_4B50
    static let unixVersionMadeBy: UInt16 = 3 << 8 | 45

    /// The local header of `member`; the archive counts its `size` bytes as following, and
    /// ``descriptor(crc:)`` ends it. Only files, directories and symlinks (write a hard link's
    /// target again as a file).
    public mutating func localHeader(for member: ArchiveMember) -> [UInt8] {
        precondition(open == nil, "the previous member has no descriptor yet")
        precondition(member.kind != .hardLink, "ZIP has no hard links")
        var member = member
        if member.kind == .directory, member.path.last != UInt8(ascii: "/") { member.path.append(UInt8(ascii: "/")) }
        if member.kind == .symlink { member.size = Int64(member.linkTarget.count) }
        if member.kind == .directory { member.size = 0 }
        let large = zip64 == .always || UInt64(member.size) >= 0xFFFF_FFFF
        var out = ByteWriter()
        out.uint32(Self.localSignature)
        out.uint16(large ? 45 : 20)
        out.uint16(flags(member))
        out.uint16(0)
        dosTime(member.mtimeNanoseconds, into: &out)
        out.uint32(0)
        out.uint32(large ? 0xFFFF_FFFF : 0)
        out.uint32(large ? 0xFFFF_FFFF : 0)
        var extra = ByteWriter()
        if large {
            // The sizes follow in the descriptor (bit 3); zeros here, as Python writes them.
            extra.uint16(0x0001)
            extra.uint16(16)
            extra.uint64(0)
            extra.uint64(0)
        }
        unixExtras(member, into: &extra)
        out.uint16(UInt16(member.path.count))
        out.uint16(UInt16(extra.bytes.count))
        out.append(member.path)
        out.append(extra.bytes)
        open = Open(member: member, offset: offset, zip64: large)
        offset += UInt64(out.bytes.count) + UInt64(member.size)
        return out.bytes
    }

    /// The data descriptor that ends the open member, whose bytes had checksum `crc`; its
    /// central directory record is kept for ``end()``.
    public mutating func descriptor(crc: UInt32) -> [UInt8] {
        guard let entry = open else { preconditionFailure("no member is open") }
        open = nil
        let member = entry.member
        let size = UInt64(member.size)
        var out = ByteWriter()
        out.uint32(Self.descriptorSignature)
        out.uint32(crc)
        if entry.zip64 {
            out.uint64(size)
            out.uint64(size)
        } else {
            out.uint32(UInt32(size))
            out.uint32(UInt32(size))
        }
        offset += UInt64(out.bytes.count)

        let farOffset = zip64 == .always || entry.offset >= 0xFFFF_FFFF
        var extra = ByteWriter()
        if entry.zip64 || farOffset {
            var fields = ByteWriter()
            if entry.zip64 {
                fields.uint64(size)
                fields.uint64(size)
            }
            if farOffset { fields.uint64(entry.offset) }
            extra.uint16(0x0001)
            extra.uint16(UInt16(fields.bytes.count))
            extra.append(fields.bytes)
        }
        unixExtras(member, into: &extra)
        var record = ByteWriter()
        record.uint32(Self.centralSignature)
        record.uint16(Self.unixVersionMadeBy)
        record.uint16(entry.zip64 || farOffset ? 45 : 20)
        record.uint16(flags(member))
        record.uint16(0)
        dosTime(member.mtimeNanoseconds, into: &record)
        record.uint32(crc)
        record.uint32(entry.zip64 ? 0xFFFF_FFFF : UInt32(size))
        record.uint32(entry.zip64 ? 0xFFFF_FFFF : UInt32(size))
        record.uint16(UInt16(member.path.count))
        record.uint16(UInt16(extra.bytes.count))
        record.uint16(0)
        record.uint16(0)
        record.uint16(0)
        let type: UInt32 = switch member.kind {
        case .directory: 0o040000
        case .symlink: 0o120000
        case .file, .hardLink: 0o100000
        }
        record.uint32((type | member.mode & 0o7777) << 16 | (member.kind == .directory ? 0x10 : 0))
        record.uint32(farOffset ? 0xFFFF_FFFF : UInt32(entry.offset))
        record.append(member.path)
        record.append(extra.bytes)
        centralDirectory += record.bytes
        members += 1
        return out.bytes
    }

    /// A member with no bytes of its own to stream (a directory, a symlink, an empty file):
    /// its local header, bytes and descriptor at once.
    public mutating func wholeMember(_ member: ArchiveMember) -> [UInt8] {
        let content = member.kind == .symlink ? member.linkTarget : []
        var member = member
        member.size = Int64(content.count)
        return localHeader(for: member) + content + descriptor(crc: CRC32(of: content).value)
    }

    /// The central directory and the end records (ZIP64 ones when a count, size or offset
    /// needs them): the archive's last bytes.
    public mutating func end() -> [UInt8] {
        precondition(open == nil, "a member has no descriptor yet")
        let start = offset
        let size = UInt64(centralDirectory.count)
        var out = ByteWriter(capacity: centralDirectory.count + 98)
        out.append(centralDirectory)
        let large = zip64 == .always || members >= 0xFFFF || start >= 0xFFFF_FFFF || size >= 0xFFFF_FFFF
        if large {
            let recordAt = start + size
            out.uint32(Self.zip64EndSignature)
            out.uint64(44)
            out.uint16(Self.unixVersionMadeBy)
            out.uint16(45)
            out.uint32(0)
            out.uint32(0)
            out.uint64(UInt64(members))
            out.uint64(UInt64(members))
            out.uint64(size)
            out.uint64(start)
            out.uint32(Self.zip64LocatorSignature)
            out.uint32(0)
            out.uint64(recordAt)
            out.uint32(1)
        }
        out.uint32(Self.endSignature)
        out.uint16(0)
        out.uint16(0)
        out.uint16(large ? 0xFFFF : UInt16(members))
        out.uint16(large ? 0xFFFF : UInt16(members))
        out.uint32(large ? 0xFFFF_FFFF : UInt32(size))
        out.uint32(large ? 0xFFFF_FFFF : UInt32(start))
        out.uint16(0)
        offset += UInt64(out.bytes.count)
        centralDirectory = []
        return out.bytes
    }

    /// Bit 3 (a descriptor follows the bytes) and bit 11 (the name is UTF-8) when it is.
    private func flags(_ member: ArchiveMember) -> UInt16 {
        let utf8 = String(validating: member.path, as: UTF8.self) != nil
        return 0x0008 | (utf8 && member.path.contains(where: { $0 >= 0x80 }) ? 0x0800 : 0)
    }

    /// `UT` (mtime, seconds since 1970 as a signed 32-bit number, clamped) and `ux` (uid, gid).
    private func unixExtras(_ member: ArchiveMember, into out: inout ByteWriter) {
        let seconds = Self.seconds(member.mtimeNanoseconds)
        out.uint16(0x5455)
        out.uint16(5)
        out.uint8(1)
        out.uint32(UInt32(bitPattern: Int32(clamping: seconds)))
        out.uint16(0x7875)
        out.uint16(11)
        out.uint8(1)
        out.uint8(4)
        out.uint32(member.uid)
        out.uint8(4)
        out.uint32(member.gid)
    }

    /// Whole seconds of a nanosecond time, rounded down.
    public static func seconds(_ nanoseconds: Int64) -> Int64 {
        nanoseconds >= 0 ? nanoseconds / 1_000_000_000 : (nanoseconds - 999_999_999) / 1_000_000_000
    }

    /// The MS-DOS time and date fields (UTC, two-second steps, 1980 to 2107, clamped).
    private func dosTime(_ nanoseconds: Int64, into out: inout ByteWriter) {
        let (time, date) = Self.dosTimeAndDate(Self.seconds(nanoseconds))
        out.uint16(time)
        out.uint16(date)
    }

    /// The MS-DOS time and date of `seconds` since 1970 (UTC), clamped to 1980-01-01 00:00:00
    /// through 2107-12-31 23:59:58.
    public static func dosTimeAndDate(_ seconds: Int64) -> (time: UInt16, date: UInt16) {
        let first: Int64 = 315_532_800 // 1980-01-01
        let last: Int64 = 4_354_819_198 // 2107-12-31 23:59:58
        let clamped = min(max(seconds, first), last)
        let days = clamped / 86400
        let second = clamped % 86400
        let (year, month, day) = CivilTime.date(days: Int(days))
        let time = UInt16(second / 3600) << 11 | UInt16(second % 3600 / 60) << 5 | UInt16(second % 60 / 2)
        let date = UInt16(year - 1980) << 9 | UInt16(month) << 5 | UInt16(day)
        return (time, date)
    }
}
