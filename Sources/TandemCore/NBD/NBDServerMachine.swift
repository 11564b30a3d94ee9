/// The server side of one NBD connection for a read-only export, as a pure machine: the
/// client's bytes go in, in whatever pieces the socket delivers, and out come the bytes to
/// send and the reads to serve. It speaks fixed newstyle negotiation (`NBD_OPT_GO`,
/// `NBD_OPT_INFO`, `NBD_OPT_EXPORT_NAME`, `NBD_OPT_LIST`, structured replies, the
/// `base:allocation` metadata context) and answers every other option with
/// `NBD_REP_ERR_UNSUP`, so a client keeps negotiating. In transmission, a read past the end
/// or larger than the limit gets `EINVAL` and the connection stays usable; writes get `EPERM`
/// (their payload is skipped); a malformed handshake or a bad magic closes this connection.
public struct NBDServerMachine: Sendable {
    /// What the connection serves.
    public struct Export: Sendable, Equatable {
        public let name: String
        public let size: UInt64
        public let description: String

        public init(name: String, size: UInt64, description: String) {
            self.name = name
            self.size = size
            self.description = description
        }
    }

    /// A read or block-status request in transmission.
    public struct Request: Sendable, Equatable {
        public let cookie: UInt64
        public let offset: UInt64
        public let length: UInt32
        public let flags: UInt16
    }

    /// What the connection must do next, in order.
    public enum Action: Sendable, Equatable {
        case send([UInt8])
        /// Read `length` bytes at `offset` and answer with ``readReply(_:data:)`` or ``errorReply(_:error:message:)``.
        case read(Request)
        /// Describe the range and answer with ``blockStatusReply(_:extents:)``.
        case blockStatus(Request)
        /// Close the connection (the client left, or broke the protocol: the reason is for the log).
        case close(String)
    }

    public enum Phase: Sendable, Equatable { case clientFlags, negotiating, transmitting, closed }

    public let export: Export
    /// The largest read served (bigger ones get `EINVAL`), also announced as the maximum block size.
    public let maximumRequest: UInt32
    /// The largest option a client may send.
    public static let maximumOptionLength = 65536

    // Set by the negotiation and transmission steps (their own files), read by the I/O layer.
    public internal(set) var phase = Phase.clientFlags
    public internal(set) var structuredReplies = false
    public internal(set) var allocationSelected = false
    var noZeroes = false
    private var buffer: [UInt8] = []
    private var start = 0
    /// Bytes of a refused write's payload still to discard.
    var skipping = 0

    public init(export: Export, maximumRequest: UInt32 = 32 << 20) {
        self.export = export
        self.maximumRequest = maximumRequest
    }

    /// The server's first bytes: `NBDMAGIC`, `IHAVEOPT` and the handshake flags.
    public static func greeting() -> [UInt8] {
        var out = NBDWriter()
        out.u64(NBDProtocol.greetingMagic)
        out.u64(NBDProtocol.optionMagic)
        out.u16(NBDProtocol.flagFixedNewstyle | NBDProtocol.flagNoZeroes)
        return out.bytes
    }

    /// The transmission flags announced for the export.
    public static let transmissionFlags = NBDProtocol.transmissionHasFlags | NBDProtocol.transmissionReadOnly
        | NBDProtocol.transmissionSendFlush | NBDProtocol.transmissionCanMultiConn | NBDProtocol.transmissionSendCache

    /// Takes the client's next bytes; returns what to do, in order.
    public mutating func receive(_ input: some Collection<UInt8>) -> [Action] {
        guard phase != .closed else { return [] }
        buffer.append(contentsOf: input)
        var actions: [Action] = []
        while phase != .closed, let produced = step() { actions += produced }
        if start > 0 {
            buffer.removeFirst(start)
            start = 0
        }
        return actions
    }

    private var available: Int { buffer.count - start }

    /// Handles one whole message if there is one; nil when more bytes are needed.
    private mutating func step() -> [Action]? {
        switch phase {
        case .clientFlags:
            guard available >= 4 else { return nil }
            var reader = NBDReader(buffer[start..<start + 4])
            start += 4
            let flags = reader.u32()!
            guard flags & ~(NBDProtocol.clientFixedNewstyle | NBDProtocol.clientNoZeroes) == 0 else {
                return close("unknown client flags 0x\(String(flags, radix: 16))")
            }
            noZeroes = flags & NBDProtocol.clientNoZeroes != 0
            phase = .negotiating
            return []
        case .negotiating:
            guard available >= 16 else { return nil }
            var header = NBDReader(buffer[start..<start + 16])
            guard header.u64() == NBDProtocol.optionMagic else { return close("an option without IHAVEOPT") }
            let option = header.u32()!, length = Int(header.u32()!)
            guard length <= Self.maximumOptionLength else { return close("an option of \(length) bytes") }
            guard available >= 16 + length else { return nil }
            let data = buffer[start + 16..<start + 16 + length]
            start += 16 + length
            return negotiate(option, data)
        case .transmitting:
            if skipping > 0 {
                let skipped = min(skipping, available)
                start += skipped
                skipping -= skipped
                return skipping > 0 ? nil : []
            }
            guard available >= 28 else { return nil }
            var header = NBDReader(buffer[start..<start + 28])
            start += 28
            guard header.u32() == NBDProtocol.requestMagic else { return close("a request without its magic") }
            let flags = header.u16()!, type = header.u16()!
            let request = Request(cookie: header.u64()!, offset: header.u64()!, length: header.u32()!, flags: flags)
            return transmit(type, request)
        case .closed:
            return nil
        }
    }

    mutating func close(_ reason: String) -> [Action] {
        phase = .closed
        return [.close(reason)]
    }
}
