import Foundation
import TandemCore
#if canImport(Glibc)
import Glibc
#endif

/// A blocking NBD client over a Unix socket, just enough to time single reads: fixed newstyle
/// negotiation, `NBD_OPT_GO` for the default export, then `NBD_CMD_READ` with simple replies,
/// one request in flight. The benchmark's stopwatch, not a general client.
final class NBDReader {
    private let fd: Int32
    /// The export's size, from the server's `NBD_INFO_EXPORT`.
    private(set) var size: UInt64 = 0
    private var handle: UInt64 = 0

    /// Connects to `socket`, retrying until `deadline` (monotonic seconds) while nothing
    /// listens there yet, and negotiates the default export.
    init(socket path: String, deadline: Double) throws {
        var connected: Int32 = -1
        while connected < 0 {
            let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
            }
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if result == 0 {
                connected = fd
            } else {
                close(fd)
                guard Monotonic.now() < deadline else { throw BenchError("nothing listens on \(path)") }
                usleep(1000)
            }
        }
        fd = connected
        try negotiate()
    }

    deinit { close(fd) }

    private func negotiate() throws {
        var greeting = ByteReaderBE(try receive(18))
        guard greeting.u64() == NBDProtocol.greetingMagic, greeting.u64() == NBDProtocol.optionMagic else {
            throw BenchError("not an NBD server (bad greeting)")
        }
        try send(be32(NBDProtocol.clientFixedNewstyle | NBDProtocol.clientNoZeroes))
        // NBD_OPT_GO, default export name, no information requests.
        try send(be64(NBDProtocol.optionMagic) + be32(NBDProtocol.Option.go.rawValue) + be32(6) + be32(0) + be16(0))
        while true {
            var header = ByteReaderBE(try receive(20))
            _ = header.u64()
            _ = header.u32()
            let type = header.u32()
            let length = Int(header.u32())
            var body = ByteReaderBE(try receive(length))
            if type == NBDProtocol.OptionReply.ack.rawValue { return }
            if type == NBDProtocol.OptionReply.info.rawValue, body.u16() == NBDProtocol.infoExport { size = body.u64() }
            if type & 0x8000_0000 != 0 { throw BenchError("the server refused NBD_OPT_GO (reply \(String(type, radix: 16)))") }
        }
    }

    /// Reads `length` bytes at `offset`; throws on an error reply.
    @discardableResult
    func read(offset: UInt64, length: UInt32) throws -> [UInt8] {
        handle += 1
        try send(be32(NBDProtocol.requestMagic) + be16(0) + be16(NBDProtocol.Command.read.rawValue) + be64(handle) + be64(offset) + be32(length))
        var reply = ByteReaderBE(try receive(16))
        guard reply.u32() == NBDProtocol.simpleReplyMagic else { throw BenchError("unexpected NBD reply") }
        let error = reply.u32()
        guard reply.u64() == handle else { throw BenchError("NBD reply to another request") }
        guard error == 0 else { throw BenchError("NBD read at \(offset) failed: error \(error)") }
        return try receive(Int(length))
    }

    /// Ends the session politely (`NBD_CMD_DISC`).
    func disconnect() {
        try? send(be32(NBDProtocol.requestMagic) + be16(0) + be16(NBDProtocol.Command.disconnect.rawValue) + be64(0) + be64(0) + be32(0))
    }

    private func send(_ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw BenchError("NBD send: \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    private func receive(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + done, count - done, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw BenchError("NBD connection closed (\(n < 0 ? String(cString: strerror(errno)) : "end of stream"))") }
            done += n
        }
        return bytes
    }

    private func be16(_ value: UInt16) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
    private func be32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
    private func be64(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
}

/// Big-endian fields of a message already received whole.
private struct ByteReaderBE {
    let bytes: [UInt8]
    var at = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func integer(_ width: Int) -> UInt64 {
        guard at + width <= bytes.count else { return 0 }
        defer { at += width }
        return bytes[at..<at + width].reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func u16() -> UInt16 { UInt16(integer(2)) }
    mutating func u32() -> UInt32 { UInt32(integer(4)) }
    mutating func u64() -> UInt64 { integer(8) }
}
