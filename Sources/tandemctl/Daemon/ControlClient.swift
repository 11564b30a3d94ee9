import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import TandemCore

/// `--socket PATH` (or TANDEM_SOCKET): where the local `tandemd` listens. Commands given
/// no `--repo` talk to the daemon through it.
struct DaemonOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The daemon's control socket (default: $TANDEM_SOCKET or /run/tandem/control.sock).",
                                            valueName: "PATH"))
    var socket: String?

    var socketPath: String {
        socket ?? ProcessInfo.processInfo.environment["TANDEM_SOCKET"].flatMap { $0.isEmpty ? nil : $0 } ?? "/run/tandem/control.sock"
    }

    func client() -> ControlClient { ControlClient(socketPath: socketPath) }
}

/// Why a daemon request failed: unreachable, or an error answer.
enum DaemonCallError: Error, CustomStringConvertible {
    case unreachable(String, String)
    case refused(status: Int, ErrorResponse)
    case malformed(String)
    /// The daemon ended a held request (an export) before the command did.
    case ended(String)

    var description: String {
        switch self {
        case .unreachable(let path, let why):
            "cannot reach tandemd at \(path): \(why) (is it running? use --repo DIR to work offline, or --socket PATH)"
        case .refused(_, let error): error.message
        case .malformed(let why): "tandemd sent an answer tandemctl cannot read: \(why)"
        case .ended(let what): what
        }
    }
}

/// A minimal HTTP/1.1 client for the control socket, on SwiftNIO: one connection per request.
struct ControlClient: Sendable {
    let socketPath: String

    func get<T: Decodable>(_ path: String, as type: T.Type) async throws -> T {
        try decode(T.self, try await call(.GET, path, body: nil))
    }

    func post<T: Decodable>(_ path: String, body: some Encodable, as type: T.Type) async throws -> T {
        let bytes = Array(try ControlJSON.encoder().encode(body))
        return try decode(T.self, try await call(.POST, path, body: bytes))
    }

    /// The raw body of a successful answer (for `--json`, printed as the daemon sent it).
    /// A connection that breaks before the whole request went out is tried again (the daemon
    /// cannot have acted on a request it did not receive), and so is a GET whose answer was
    /// cut off, three times in all.
    func call(_ method: HTTPMethod, _ path: String, body: [UInt8]?) async throws -> [UInt8] {
        var attempt = 1
        while true {
            do {
                return try await callOnce(method, path, body: body)
            } catch let failure as NotSent where attempt < 3 {
                _ = failure
                attempt += 1
                try await Task.sleep(for: .milliseconds(100))
            } catch let failure as NotSent {
                throw DaemonCallError.unreachable(socketPath, Self.reason(failure.error, path: socketPath))
            } catch where method == .GET && attempt < 3 && !(error is DaemonCallError) {
                // A GET changes nothing: a connection that broke before its answer is asked again.
                attempt += 1
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// The request did not fully go out.
    private struct NotSent: Error {
        let error: any Error
    }

    private func callOnce(_ method: HTTPMethod, _ path: String, body: [UInt8]?) async throws -> [UInt8] {
        try await exchange(method, path, body: body, keepAlive: false) { answer, _ in answer }
    }

    /// POSTs `body` and, once the daemon accepts it, runs `hold` with the answer while the
    /// connection stays open: what the daemon does for such a request (an export) lasts as
    /// long as the connection, so it ends with this process however this process ends.
    /// Returns when `hold` does, or when the daemon closes the connection first (true).
    func postHolding<T: Decodable & Sendable>(_ path: String, body: some Encodable, as type: T.Type,
                                              while hold: @escaping @Sendable (T) async throws -> Void) async throws -> Bool {
        let bytes = Array(try ControlJSON.encoder().encode(body))
        do {
            return try await exchange(.POST, path, body: bytes, keepAlive: true) { answer, channel in
                let value = try decode(T.self, answer)
                let (closed, closing) = AsyncStream<Void>.makeStream()
                channel.closeFuture.whenComplete { _ in closing.finish() }
                return try await withThrowingTaskGroup(of: Bool.self) { group in
                    group.addTask {
                        try await hold(value)
                        return false
                    }
                    group.addTask {
                        for await _ in closed {}
                        return !Task.isCancelled
                    }
                    let daemonClosed = try await group.next() ?? false
                    group.cancelAll()
                    return daemonClosed
                }
            }
        } catch let failure as NotSent {
            throw DaemonCallError.unreachable(socketPath, Self.reason(failure.error, path: socketPath))
        }
    }

    /// Sends one request and hands a successful answer's body to `answered` while the
    /// connection is still open; an error answer is thrown as ``DaemonCallError/refused(status:_:)``.
    private func exchange<R>(_ method: HTTPMethod, _ path: String, body: [UInt8]?, keepAlive: Bool,
                             answered: ([UInt8], any Channel) async throws -> R) async throws -> R {
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(unixDomainSocketPath: socketPath) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw DaemonCallError.unreachable(socketPath, Self.reason(error, path: socketPath))
        }
        return try await channel.executeThenClose { inbound, outbound in
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: "tandemd")
            headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
            headers.add(name: "Content-Length", value: String(body?.count ?? 0))
            if body != nil { headers.add(name: "Content-Type", value: "application/json") }
            do {
                try await outbound.write(.head(HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)))
                if let body { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
                try await outbound.write(.end(nil))
            } catch {
                throw NotSent(error: error)
            }
            var status: HTTPResponseStatus?
            var received: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let head): status = head.status
                case .body(let buffer): received += buffer.readableBytesView
                case .end:
                    guard let status else { throw DaemonCallError.malformed("no response head") }
                    if (200..<300).contains(Int(status.code)) { return try await answered(received, channel.channel) }
                    let error = (try? ControlJSON.decoder().decode(ErrorResponse.self, from: Data(received)))
                        ?? ErrorResponse(.failed, message: "HTTP \(status.code) \(String(decoding: received, as: UTF8.self))")
                    throw DaemonCallError.refused(status: Int(status.code), error)
                }
            }
            throw DaemonCallError.malformed("the connection closed before the answer ended")
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        do { return try ControlJSON.decoder().decode(T.self, from: Data(bytes)) } catch {
            throw DaemonCallError.malformed("\(error)")
        }
    }

    /// Why connecting to `path` failed, in words: what is at the path first (a directory or a
    /// plain file is not refusing anything), then the system's reason.
    static func reason(_ error: any Error, path: String) -> String {
        var info = stat()
        if lstat(path, &info) == 0 {
            switch info.st_mode & S_IFMT {
            case S_IFDIR: return "\(path) is a directory, not tandemd's control socket (name the socket inside it, e.g. \(path)/control.sock)"
            case S_IFSOCK: break
            default: return "\(path) is not a socket (tandemd's control socket is where the site config's control.socket says)"
            }
        }
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        let text = "\(error)"
        if text.contains("connection refused") || text.contains("ECONNREFUSED") { return "connection refused" }
        if text.contains("No such file") || text.contains("ENOENT") { return "no such socket" }
        return text
    }
}
