import Foundation

/// One unit on a site link (version 1). Layout, all integers big-endian:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | magic `TDLK` |
/// | 4 | 1 | frame format version (1) |
/// | 5 | 1 | kind (``LinkFrame/Kind``) |
/// | 6 | 2 | reserved, 0 |
/// | 8 | 4 | header length H (≤ 64 KiB) |
/// | 12 | 4 | body length B (≤ 64 MiB) |
/// | 16 | H | header: one JSON document (``LinkMessage``) |
/// | 16+H | B | body: raw bytes (a pack, a manifest), empty for most messages |
///
/// Heartbeats travel on their own connection, so they never queue behind a pack's body.
public struct LinkFrame: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        case hello = 1, welcome = 2, refuse = 3, heartbeat = 4, request = 5, response = 6
    }

    public static let magic: [UInt8] = Array("TDLK".utf8)
    public static let formatVersion: UInt8 = 1
    public static let headerSize = 16
    public static let maximumHeader = 64 << 10
    public static let maximumBody = 64 << 20

    public var kind: Kind
    public var header: [UInt8]
    /// A slice, so a receiver can place a large body where the storage under it wants it
    /// (page-aligned, for writes that bypass the page cache) without copying it again.
    public var body: ArraySlice<UInt8>

    public init(kind: Kind, header: [UInt8], body: ArraySlice<UInt8> = []) {
        self.kind = kind
        self.header = header
        self.body = body
    }

    public init(kind: Kind, header: [UInt8], body: [UInt8]) {
        self.init(kind: kind, header: header, body: body[...])
    }

    /// The frame's bytes.
    public func encoded() -> [UInt8] {
        Self.prefix(kind: kind, headerLength: header.count, bodyLength: body.count) + header + Array(body)
    }

    /// The fixed 16 bytes before a frame's header and body.
    public static func prefix(kind: Kind, headerLength: Int, bodyLength: Int) -> [UInt8] {
        var out = magic
        out.reserveCapacity(headerSize)
        out.append(formatVersion)
        out.append(kind.rawValue)
        out += [0, 0]
        for value in [UInt32(headerLength), UInt32(bodyLength)] {
            out += [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
        }
        return out
    }

    /// What a frame's first 16 bytes say, checked against the limits.
    public struct Prefix: Sendable, Equatable {
        public var kind: Kind
        public var headerLength: Int
        public var bodyLength: Int
        /// The whole frame's length, prefix included.
        public var frameLength: Int { headerSize + headerLength + bodyLength }

        /// Parses the start of `bytes`: nil while fewer than 16 bytes are there (the magic is
        /// checked as soon as it arrives, so garbage fails fast); throws on bytes that cannot
        /// start a frame.
        public static func parse(_ bytes: some Collection<UInt8>) throws(LinkFrameError) -> Prefix? {
            var iterator = bytes.makeIterator()
            var first = [UInt8]()
            first.reserveCapacity(headerSize)
            while first.count < headerSize, let byte = iterator.next() { first.append(byte) }
            for i in 0..<min(first.count, 4) where first[i] != magic[i] { throw .badMagic }
            guard first.count == headerSize else { return nil }
            guard first[4] == formatVersion else { throw .unsupportedFormat(first[4]) }
            guard let kind = Kind(rawValue: first[5]) else { throw .unknownKind(first[5]) }
            func u32(_ at: Int) -> Int { Int(first[at]) << 24 | Int(first[at + 1]) << 16 | Int(first[at + 2]) << 8 | Int(first[at + 3]) }
            let headerLength = u32(8), bodyLength = u32(12)
            guard headerLength <= maximumHeader else { throw .headerTooLarge(headerLength) }
            guard bodyLength <= maximumBody else { throw .bodyTooLarge(bodyLength) }
            return Prefix(kind: kind, headerLength: headerLength, bodyLength: bodyLength)
        }
    }
}

/// Why bytes from a peer are not a frame. The link is closed on any of these: a peer that
/// sends garbage is not talked to further.
public enum LinkFrameError: Error, Equatable, CustomStringConvertible {
    case badMagic
    case unsupportedFormat(UInt8)
    case unknownKind(UInt8)
    case headerTooLarge(Int)
    case bodyTooLarge(Int)
    case malformedMessage(String)

    public var description: String {
        switch self {
        case .badMagic: "not a Tandem site link (bad magic)"
        case .unsupportedFormat(let v): "frame format \(v) is not supported (this site speaks 1)"
        case .unknownKind(let k): "unknown frame kind \(k)"
        case .headerTooLarge(let n): "frame header of \(n) bytes exceeds \(LinkFrame.maximumHeader)"
        case .bodyTooLarge(let n): "frame body of \(n) bytes exceeds \(LinkFrame.maximumBody)"
        case .malformedMessage(let why): "malformed message: \(why)"
        }
    }
}

/// Cuts frames out of a byte stream fed in any pieces (resumable, like the chunker): lengths
/// are checked against the limits before anything is buffered for them.
public struct LinkFrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0

    public init() {}

    /// Adds bytes received from the peer.
    public mutating func feed(_ bytes: some Collection<UInt8>) {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, nil if more bytes are needed; throws on bytes that cannot be one.
    public mutating func next() throws(LinkFrameError) -> LinkFrame? {
        guard let prefix = try LinkFrame.Prefix.parse(buffer[start...]) else { return nil }
        guard buffer.count - start >= prefix.frameLength else { return nil }
        let headerStart = start + LinkFrame.headerSize
        let frame = LinkFrame(kind: prefix.kind, header: Array(buffer[headerStart..<headerStart + prefix.headerLength]),
                              body: Array(buffer[headerStart + prefix.headerLength..<start + prefix.frameLength])[...])
        start += prefix.frameLength
        return frame
    }

    /// Bytes received but not yet part of a returned frame.
    public var pending: Int { buffer.count - start }
}
