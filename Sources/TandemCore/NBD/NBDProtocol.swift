/// The numbers of the NBD protocol (NetworkBlockDevice/nbd `doc/proto.md`) that Tandem's
/// read-only export speaks: fixed newstyle negotiation, `NBD_OPT_GO`, structured replies and
/// the `base:allocation` metadata context.
public enum NBDProtocol {
    /// `NBDMAGIC`, the server's first eight bytes.
    public static let greetingMagic: UInt64 = 0x4e42_444d_4147_4943
    /// `IHAVEOPT`: after the greeting, and before every option the client sends.
    public static let optionMagic: UInt64 = 0x4948_4156_454f_5054
    /// The magic of every option reply.
    public static let optionReplyMagic: UInt64 = 0x0003_e889_0455_65a9
    public static let requestMagic: UInt32 = 0x2560_9513
    public static let simpleReplyMagic: UInt32 = 0x6744_6698
    public static let structuredReplyMagic: UInt32 = 0x668e_33ef

    /// Handshake flags (server) and client flags.
    public static let flagFixedNewstyle: UInt16 = 1 << 0
    public static let flagNoZeroes: UInt16 = 1 << 1
    public static let clientFixedNewstyle: UInt32 = 1 << 0
    public static let clientNoZeroes: UInt32 = 1 << 1

    /// Transmission flags: a read-only export, the same bytes on every connection.
    public static let transmissionHasFlags: UInt16 = 1 << 0
    public static let transmissionReadOnly: UInt16 = 1 << 1
    public static let transmissionSendFlush: UInt16 = 1 << 2
    public static let transmissionCanMultiConn: UInt16 = 1 << 8
    public static let transmissionSendCache: UInt16 = 1 << 10

    /// Options.
    public enum Option: UInt32, Sendable {
        case exportName = 1, abort = 2, list = 3, peekExport = 4, startTLS = 5, info = 6, go = 7, structuredReply = 8,
             listMetaContext = 9, setMetaContext = 10, extendedHeaders = 11
    }

    /// Option replies; errors have bit 31 set.
    public enum OptionReply: UInt32, Sendable {
        case ack = 1, server = 2, info = 3, metaContext = 4
        case errorUnsupported = 0x8000_0001, errorPolicy = 0x8000_0002, errorInvalid = 0x8000_0003, errorPlatform = 0x8000_0004,
             errorTLSRequired = 0x8000_0005, errorUnknown = 0x8000_0006, errorShutdown = 0x8000_0007,
             errorBlockSizeRequired = 0x8000_0008, errorTooBig = 0x8000_0009
    }

    /// `NBD_REP_INFO` types.
    public static let infoExport: UInt16 = 0
    public static let infoName: UInt16 = 1
    public static let infoDescription: UInt16 = 2
    public static let infoBlockSize: UInt16 = 3

    /// Request types.
    public enum Command: UInt16, Sendable {
        case read = 0, write = 1, disconnect = 2, flush = 3, trim = 4, cache = 5, writeZeroes = 6, blockStatus = 7
    }

    /// Command flags.
    public static let commandFlagReqOne: UInt16 = 1 << 3

    /// Structured reply chunk types and flags.
    public static let replyFlagDone: UInt16 = 1 << 0
    public static let replyTypeOffsetData: UInt16 = 1
    public static let replyTypeOffsetHole: UInt16 = 2
    public static let replyTypeBlockStatus: UInt16 = 5
    public static let replyTypeError: UInt16 = 0x8001

    /// Error values (as errno on Linux).
    public static let errorPermission: UInt32 = 1
    public static let errorIO: UInt32 = 5
    public static let errorInvalid: UInt32 = 22
    public static let errorNotSupported: UInt32 = 95

    /// `base:allocation` flags.
    public static let stateHole: UInt32 = 1 << 0
    public static let stateZero: UInt32 = 1 << 1

    /// The one metadata context served, and its ID on every connection.
    public static let allocationContext = "base:allocation"
    public static let allocationContextID: UInt32 = 1
}

/// Big-endian encoding for NBD messages.
struct NBDWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    mutating func u16(_ value: UInt16) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
    mutating func append(_ data: some Sequence<UInt8>) { bytes.append(contentsOf: data) }
}

/// Big-endian decoding of a message already known to be whole; nil past its end.
struct NBDReader {
    let bytes: ArraySlice<UInt8>
    private(set) var position: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    var remaining: Int { bytes.endIndex - position }

    mutating func u16() -> UInt16? { integer(2).map { UInt16($0) } }
    mutating func u32() -> UInt32? { integer(4).map { UInt32($0) } }
    mutating func u64() -> UInt64? { integer(8) }

    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, remaining >= count else { return nil }
        defer { position += count }
        return bytes[position..<position + count]
    }

    private mutating func integer(_ width: Int) -> UInt64? {
        guard let field = take(width) else { return nil }
        return field.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }
}
