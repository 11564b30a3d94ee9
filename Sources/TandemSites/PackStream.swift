import Foundation
import TandemCore
import TandemStore

/// Sends one tenant's new packs to the twin while a backup writes them, over one link
/// connection. The backup hands each durable pack over and goes on; a pump task of this actor
/// reads the pack and sends it, with ``wire`` packs on the link at once (the twin verifies and
/// fsyncs one while the next crosses). The backup waits only when more than ``window`` packs
/// are handed over and not yet acknowledged, so a slow twin holds it back without the reads
/// and round trips sitting on its commit path. Streaming is an optimization: when it fails,
/// it stops quietly, and the commit-time round (which asks what the twin lacks) sends the rest.
public actor PackStream {
    private let connection: any LinkChannel
    private let backend: any Backend
    private let tenant: String
    private let epoch: UInt64?
    /// Packs handed over and not yet read.
    private var queued: [(name: String, path: String)] = []
    /// Requests on the link, oldest first.
    private var inFlight: [UInt64] = []
    private var pump: Task<Void, Never>?
    private var finishing = false
    private var workWaiter: CheckedContinuation<Void, Never>?
    private var spaceWaiters: [CheckedContinuation<Void, Never>] = []
    /// Packs handed over and not yet acknowledged before the backup waits.
    static let window = 4
    /// Packs on the link at once (each held in memory until acknowledged).
    static let wire = 2
    /// Why streaming stopped (nil: it did not).
    public private(set) var broken: String?
    /// Packs the twin acknowledged.
    public private(set) var acknowledged = 0

    init(connection: any LinkChannel, backend: any Backend, tenant: String, epoch: UInt64?) {
        self.connection = connection
        self.backend = backend
        self.tenant = tenant
        self.epoch = epoch
    }

    private var outstanding: Int { queued.count + inFlight.count }

    /// Hands over a pack that is now durable here; waits only while the window is full.
    public func send(name: String, path: String) async {
        guard broken == nil else { return }
        queued.append((name, path))
        if pump == nil { pump = Task { await self.run() } }
        wakePump()
        while broken == nil && outstanding > Self.window {
            await withCheckedContinuation { spaceWaiters.append($0) }
        }
    }

    /// Waits until every pack handed over is acknowledged (or streaming broke), then stops the pump.
    func finish() async {
        finishing = true
        wakePump()
        await pump?.value
    }

    private func run() async {
        while broken == nil {
            do {
                if let next = queued.first, inFlight.count < Self.wire {
                    let bytes = try await backend.read(next.path)
                    let request = LinkRequest(.putPack(name: next.name), tenant: tenant, epoch: epoch)
                    inFlight.append(try await connection.submit(request, body: bytes))
                    queued.removeFirst()
                } else if !inFlight.isEmpty {
                    let (response, _) = try await connection.response(to: inFlight.removeFirst())
                    if let refusal = response.refusal { throw LinkError.remote("put_pack: \(refusal)") }
                    acknowledged += 1
                    wakeSpace()
                } else if finishing {
                    break
                } else {
                    await withCheckedContinuation { workWaiter = $0 }
                }
            } catch {
                broken = "\(error)"
            }
        }
        wakeSpace()
    }

    private func wakePump() {
        workWaiter?.resume()
        workWaiter = nil
    }

    private func wakeSpace() {
        let waiters = spaceWaiters
        spaceWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
    }
}

extension Shipper {
    /// Runs `body` (a backup) with a ``PackStream`` to the peer, or with nil when the peer
    /// cannot be reached now (the commit-time round sends everything then).
    public nonisolated func streaming<T: Sendable>(tenant: String, _ body: (PackStream?) async throws -> T) async throws -> T {
        let epoch = await remote.epoch(tenant)
        var started = false
        do {
            return try await remote.link.with { connection in
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
