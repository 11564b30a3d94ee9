import Foundation
import TandemCore
import TandemStore

/// Sends one tenant's new packs to the twin while a backup writes them, over one link
/// connection, with a window of ``window`` packs in flight: the twin verifies and
/// fsyncs one while the next crosses, and a slow twin holds the backup back. Streaming is an
/// optimization: when it fails, it stops quietly, and the commit-time round (which asks what
/// the twin lacks) sends the rest.
public actor PackStream {
    private let connection: LinkConnection
    private let backend: any Backend
    private let tenant: String
    private let epoch: UInt64?
    private var inFlight: [UInt64] = []
    /// Packs sent before the oldest is acknowledged.
    static let window = 4
    /// Why streaming stopped (nil: it did not).
    public private(set) var broken: String?
    /// Packs the twin acknowledged.
    public private(set) var acknowledged = 0

    init(connection: LinkConnection, backend: any Backend, tenant: String, epoch: UInt64?) {
        self.connection = connection
        self.backend = backend
        self.tenant = tenant
        self.epoch = epoch
    }

    /// Sends a pack that is now durable here.
    public func send(name: String, path: String) async {
        guard broken == nil else { return }
        do {
            let bytes = try await backend.read(path)
            var request = LinkRequest(id: 0, op: "put_pack", tenant: tenant, name: name)
            request.epoch = epoch
            inFlight.append(try await connection.submit(request, body: bytes))
            if inFlight.count >= Self.window { try await settleOldest() }
        } catch {
            broken = "\(error)"
        }
    }

    /// Waits for the packs still in flight.
    func finish() async {
        while broken == nil && !inFlight.isEmpty {
            do { try await settleOldest() } catch { broken = "\(error)" }
        }
    }

    private func settleOldest() async throws {
        let id = inFlight.removeFirst()
        let (response, _) = try await connection.response(to: id)
        guard response.ok else { throw LinkError.remote(response.error ?? "put_pack refused") }
        acknowledged += 1
    }
}

extension Shipper {
    /// Runs `body` (a backup) with a ``PackStream`` to the peer, or with nil when the peer
    /// cannot be reached now (the commit-time round sends everything then).
    public nonisolated func streaming<T: Sendable>(tenant: String, _ body: (PackStream?) async throws -> T) async throws -> T {
        let epoch = await remote.epoch(tenant)
        var started = false
        do {
            return try await LinkConnection.with(host: remote.host, port: remote.port, peer: remote.site, tls: remote.tls,
                                                 hello: remote.hello) { connection in
                started = true
                let stream = PackStream(connection: connection, backend: backend, tenant: tenant, epoch: epoch)
                let result = try await body(stream)
                await stream.finish()
                if let broken = await stream.broken {
                    logger.warning("streaming packs to the peer stopped; the rest goes at commit",
                                   metadata: ["peer": "\(remote.site)", "tenant": "\(tenant)", "error": "\(broken)"])
                }
                return result
            }
        } catch where !started {
            logger.warning("cannot stream packs to the peer; they go at commit",
                           metadata: ["peer": "\(remote.site)", "tenant": "\(tenant)", "error": "\(error)"])
            return try await body(nil)
        }
    }
}
