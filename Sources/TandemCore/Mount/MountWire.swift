/// The protocol between a mount and the repository behind it when they live in different
/// processes: `tandemctl mount` (the FUSE side, as the user) asks tandemd (which holds the
/// repository and the key) over a Unix socket. Each frame is a 4-byte big-endian length and a
/// body; requests carry an ID their reply repeats, so many can be in flight and answered in
/// any order. Pure: bytes in, values out; every malformed input is refused with
/// ``MountWireError``, never trapped on.
///
/// ```
/// request  id u64 | op u8 | arguments
///   1 attributes  inode u64
///   2 lookup      parent u64 | name (u16 length, bytes)
///   3 entries     inode u64
///   4 target      inode u64
///   5 open        inode u64 | flags i32
///   6 read        inode u64 | handle u64 (0: by the inode) | offset u64 | length u32
///   7 release     handle u64
///   8 xattr       inode u64 | name (u16 length, bytes)
///   9 xattrNames  inode u64
///  10 entriesPlus inode u64
/// reply    id u64 | errno i32 (0: the result follows) | result
///   attributes    kind u8 | mode u32 | uid u32 | gid u32 | size i64 | mtime ns i64 | links u32
///   lookup        inode u64 | attributes
///   entries       count u32 | (name (u16, bytes) | inode u64 | kind u8) each
///   entriesPlus   count u32 | (name (u16, bytes) | inode u64 | attributes) each
///   target, read, xattr, xattrNames   bytes (u32 length, bytes)
///   open          handle u64
///   release       nothing
/// ```
public enum MountWire {
    /// The largest frame body either side accepts (a read of 16 MiB and its header).
    public static let maximumFrame = (16 << 20) + 64
    /// The largest read one request may ask for.
    public static let maximumRead: UInt32 = 16 << 20

    /// What the mount asks.
    public enum Request: Sendable, Equatable {
        case attributes(inode: UInt64)
        case lookup(parent: UInt64, name: [UInt8])
        case entries(inode: UInt64)
        case target(inode: UInt64)
        case open(inode: UInt64, flags: Int32)
        case read(inode: UInt64, handle: UInt64, offset: UInt64, length: UInt32)
        case release(handle: UInt64)
        case xattr(inode: UInt64, name: [UInt8])
        case xattrNames(inode: UInt64)
        /// A directory's entries with their attributes (the kernel's READDIRPLUS).
        case entriesPlus(inode: UInt64)

        /// The operation's number on the wire.
        public var op: UInt8 {
            switch self {
            case .attributes: 1
            case .lookup: 2
            case .entries: 3
            case .target: 4
            case .open: 5
            case .read: 6
            case .release: 7
            case .xattr: 8
            case .xattrNames: 9
            case .entriesPlus: 10
            }
        }
    }

    /// One directory entry in a reply.
    public struct Entry: Sendable, Equatable {
        public var name: [UInt8]
        public var inode: UInt64
        public var kind: MountTree.Kind

        public init(name: [UInt8], inode: UInt64, kind: MountTree.Kind) {
            self.name = name
            self.inode = inode
            self.kind = kind
        }
    }

    /// One directory entry with its attributes (what `stat` shows of it).
    public struct EntryPlus: Sendable, Equatable {
        public var name: [UInt8]
        public var inode: UInt64
        public var attributes: MountTree.Attributes

        public init(name: [UInt8], inode: UInt64, attributes: MountTree.Attributes) {
            self.name = name
            self.inode = inode
            self.attributes = attributes
        }
    }

    /// What the repository answers, when it does not answer an errno.
    public enum Result: Sendable, Equatable {
        case attributes(MountTree.Attributes)
        case entry(inode: UInt64, attributes: MountTree.Attributes)
        case entries([Entry])
        case entriesPlus([EntryPlus])
        case bytes([UInt8])
        case handle(UInt64)
        case done
    }

    /// A whole frame for `request`, numbered `id`.
    public static func frame(id: UInt64, _ request: Request) -> [UInt8] {
        var body = WireWriter()
        body.u64(id)
        body.u8(request.op)
        switch request {
        case .attributes(let inode), .entries(let inode), .target(let inode), .xattrNames(let inode), .entriesPlus(let inode):
            body.u64(inode)
        case .lookup(let parent, let name):
            body.u64(parent)
            body.short(name)
        case .open(let inode, let flags):
            body.u64(inode)
            body.u32(UInt32(bitPattern: flags))
        case .read(let inode, let handle, let offset, let length):
            body.u64(inode)
            body.u64(handle)
            body.u64(offset)
            body.u32(length)
        case .release(let handle):
            body.u64(handle)
        case .xattr(let inode, let name):
            body.u64(inode)
            body.short(name)
        }
        return body.framed()
    }

    /// A request's body (the frame without its length): its ID and what it asks.
    public static func request(_ body: [UInt8]) throws(MountWireError) -> (id: UInt64, request: Request) {
        var reader = WireReader(body)
        let id = try reader.u64()
        let op = try reader.u8()
        let request: Request
        switch op {
        case 1: request = .attributes(inode: try reader.u64())
        case 2: request = .lookup(parent: try reader.u64(), name: try reader.short())
        case 3: request = .entries(inode: try reader.u64())
        case 4: request = .target(inode: try reader.u64())
        case 5: request = .open(inode: try reader.u64(), flags: Int32(bitPattern: try reader.u32()))
        case 6:
            let inode = try reader.u64(), handle = try reader.u64(), offset = try reader.u64(), length = try reader.u32()
            guard length <= maximumRead else { throw .malformed("a read of \(length) bytes, over the \(maximumRead) a request may ask") }
            request = .read(inode: inode, handle: handle, offset: offset, length: length)
        case 7: request = .release(handle: try reader.u64())
        case 8: request = .xattr(inode: try reader.u64(), name: try reader.short())
        case 9: request = .xattrNames(inode: try reader.u64())
        case 10: request = .entriesPlus(inode: try reader.u64())
        default: throw .malformed("unknown operation \(op)")
        }
        try reader.end()
        return (id, request)
    }

    /// A whole frame answering request `id` with `result`, or with `errno` when it is not 0.
    public static func reply(id: UInt64, errno: Int32 = 0, _ result: Result = .done) -> [UInt8] {
        var body = WireWriter()
        body.u64(id)
        body.u32(UInt32(bitPattern: errno))
        guard errno == 0 else { return body.framed() }
        switch result {
        case .attributes(let attributes):
            body.attributes(attributes)
        case .entry(let inode, let attributes):
            body.u64(inode)
            body.attributes(attributes)
        case .entries(let entries):
            body.u32(UInt32(entries.count))
            for entry in entries {
                body.short(entry.name)
                body.u64(entry.inode)
                body.u8(kindCode(entry.kind))
            }
        case .entriesPlus(let entries):
            body.u32(UInt32(entries.count))
            for entry in entries {
                body.short(entry.name)
                body.u64(entry.inode)
                body.attributes(entry.attributes)
            }
        case .bytes(let bytes):
            body.long(bytes)
        case .handle(let handle):
            body.u64(handle)
        case .done:
            break
        }
        return body.framed()
    }

    /// A reply's ID, from its body, to find which request it answers.
    public static func replyID(_ body: [UInt8]) throws(MountWireError) -> UInt64 {
        var reader = WireReader(body)
        return try reader.u64()
    }

    /// A reply's body read as the answer to `request`: the result, or the errno it carries.
    public static func reply(_ body: [UInt8], to request: Request) throws(MountWireError) -> Swift.Result<Result, MountTree.Errno> {
        var reader = WireReader(body)
        _ = try reader.u64()
        let errno = Int32(bitPattern: try reader.u32())
        if errno != 0 {
            try reader.end()
            return .failure(MountTree.Errno(errno))
        }
        let result: Result
        switch request {
        case .attributes: result = .attributes(try reader.attributes())
        case .lookup: result = .entry(inode: try reader.u64(), attributes: try reader.attributes())
        case .entries:
            let count = Int(try reader.u32())
            // Each entry takes at least 11 bytes: a count past what the body holds is a lie.
            guard count <= reader.remaining / 11 else { throw .malformed("\(count) entries in \(reader.remaining) bytes") }
            var entries: [Entry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                entries.append(Entry(name: try reader.short(), inode: try reader.u64(), kind: try reader.kind()))
            }
            result = .entries(entries)
        case .entriesPlus:
            let count = Int(try reader.u32())
            // Each takes at least 43 bytes (a name's length, an inode, 33 of attributes).
            guard count <= reader.remaining / 43 else { throw .malformed("\(count) entries in \(reader.remaining) bytes") }
            var entries: [EntryPlus] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                entries.append(EntryPlus(name: try reader.short(), inode: try reader.u64(), attributes: try reader.attributes()))
            }
            result = .entriesPlus(entries)
        case .target, .read, .xattr, .xattrNames: result = .bytes(try reader.long())
        case .open: result = .handle(try reader.u64())
        case .release: result = .done
        }
        try reader.end()
        return .success(result)
    }

    static func kindCode(_ kind: MountTree.Kind) -> UInt8 {
        switch kind {
        case .directory: 1
        case .file: 2
        case .symlink: 3
        }
    }

    /// Splits a byte stream into frame bodies; refuses a frame over ``maximumFrame``.
    public struct FrameReader: Sendable {
        private var buffer: [UInt8] = []
        private var start = 0

        public init() {}

        /// Adds received bytes; returns every frame body they complete.
        public mutating func receive(_ bytes: some Sequence<UInt8>) throws(MountWireError) -> [[UInt8]] {
            buffer.append(contentsOf: bytes)
            var frames: [[UInt8]] = []
            while buffer.count - start >= 4 {
                let length = buffer[start..<start + 4].reduce(0) { $0 << 8 | Int($1) }
                guard length <= MountWire.maximumFrame else { throw .malformed("a frame of \(length) bytes, over the \(MountWire.maximumFrame) allowed") }
                guard buffer.count - start - 4 >= length else { break }
                frames.append(Array(buffer[start + 4..<start + 4 + length]))
                start += 4 + length
            }
            if start > 0 && (start == buffer.count || start > 1 << 20) {
                buffer.removeFirst(start)
                start = 0
            }
            return frames
        }
    }
}

/// A mount frame that cannot be read.
public enum MountWireError: Error, Equatable, CustomStringConvertible {
    case malformed(String)

    public var description: String {
        switch self {
        case .malformed(let why): "malformed mount frame: \(why)"
        }
    }
}

extension MountTree {
    /// An errno a mount answers the kernel with.
    public struct Errno: Error, Equatable, Sendable {
        public let code: Int32
        public init(_ code: Int32) { self.code = code }
    }
}

/// Big-endian writing of a frame body.
private struct WireWriter {
    var bytes: [UInt8] = [0, 0, 0, 0]

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u32(_ value: UInt32) { for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) } }
    mutating func u64(_ value: UInt64) { for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) } }
    mutating func short(_ value: [UInt8]) {
        let count = min(value.count, Int(UInt16.max))
        bytes.append(UInt8(count >> 8))
        bytes.append(UInt8(count & 0xff))
        bytes.append(contentsOf: value.prefix(count))
    }
    mutating func long(_ value: [UInt8]) {
        u32(UInt32(value.count))
        bytes.append(contentsOf: value)
    }
    mutating func attributes(_ a: MountTree.Attributes) {
        u8(MountWire.kindCode(a.kind))
        u32(a.mode)
        u32(a.uid)
        u32(a.gid)
        u64(UInt64(bitPattern: a.size))
        u64(UInt64(bitPattern: a.mtimeNanoseconds))
        u32(a.links)
    }
    /// The body with its length in front (written in place: a read's megabyte is not copied).
    mutating func framed() -> [UInt8] {
        let length = UInt32(bytes.count - 4)
        for index in 0..<4 { bytes[index] = UInt8(truncatingIfNeeded: length >> UInt32(24 - 8 * index)) }
        return bytes
    }
}

/// Big-endian reading of a frame body; every read checks what is left.
private struct WireReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func take(_ count: Int) throws(MountWireError) -> ArraySlice<UInt8> {
        guard remaining >= count else { throw .malformed("ends \(count - remaining) bytes short") }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }
    mutating func u8() throws(MountWireError) -> UInt8 { try take(1).first! }
    mutating func u32() throws(MountWireError) -> UInt32 { try take(4).reduce(0) { $0 << 8 | UInt32($1) } }
    mutating func u64() throws(MountWireError) -> UInt64 { try take(8).reduce(0) { $0 << 8 | UInt64($1) } }
    mutating func short() throws(MountWireError) -> [UInt8] {
        let count = try take(2).reduce(0) { $0 << 8 | Int($1) }
        return Array(try take(count))
    }
    mutating func long() throws(MountWireError) -> [UInt8] { Array(try take(Int(try u32()))) }
    mutating func kind() throws(MountWireError) -> MountTree.Kind {
        switch try u8() {
        case 1: .directory
        case 2: .file
        case 3: .symlink
        case let other: throw .malformed("unknown kind \(other)")
        }
    }
    mutating func attributes() throws(MountWireError) -> MountTree.Attributes {
        let kind = try kind()
        let mode = try u32(), uid = try u32(), gid = try u32()
        let size = Int64(bitPattern: try u64()), mtime = Int64(bitPattern: try u64())
        guard size >= 0 else { throw .malformed("a negative size") }
        return MountTree.Attributes(kind: kind, mode: mode, uid: uid, gid: gid, size: size, mtimeNanoseconds: mtime, links: try u32())
    }
    func end() throws(MountWireError) {
        guard remaining == 0 else { throw .malformed("\(remaining) bytes past the end") }
    }
}
