import Foundation
import NIOCore
import NIOPosix

/// A loopback TCP proxy that stands in for the wide-area link between sites in tests and
/// benchmarks (never in the daemon): it adds a one-way delay and a rate limit in each
/// direction, counts the bytes it carries, can cut a connection at a chosen byte offset of the
/// client-to-server stream, and can partition the link (drop every connection and refuse new
/// ones) until healed.
///
/// The rate is applied where a real bottleneck applies it: the proxy reads from a side only as
/// fast as the link drains, so TCP back-pressure reaches the sender, and each piece arrives at
/// the other side one delay after it left.
public actor WANProxy {
    /// How the link behaves.
    public struct Profile: Sendable, CustomStringConvertible {
        /// One-way delay (half the round-trip time).
        public var oneWayDelay: Duration
        /// Bytes per second in each direction; nil: unlimited.
        public var bytesPerSecond: Int?

        public init(oneWayDelay: Duration = .zero, bytesPerSecond: Int? = nil) {
            self.oneWayDelay = oneWayDelay
            self.bytesPerSecond = bytesPerSecond
        }

        /// A direct loopback connection.
        public static let loopback = Profile()
        /// Two sites about 200 km apart on a 100 Mbit/s line: 5 ms RTT.
        public static let wan100Mbit = Profile(oneWayDelay: .microseconds(2500), bytesPerSecond: 100_000_000 / 8)

        public var description: String {
            let rtt = Double(oneWayDelay.components.attoseconds) / 5e14 + Double(oneWayDelay.components.seconds) * 2000
            let rate = bytesPerSecond.map { "\(Double($0) * 8 / 1e6) Mbit/s" } ?? "unlimited"
            return "RTT \(rtt) ms, \(rate)"
        }
    }

    /// What went through the proxy.
    public struct Counters: Sendable, Equatable {
        /// Bytes from clients to the upstream server.
        public var upstreamBytes: Int64 = 0
        /// Bytes from the upstream server to clients.
        public var downstreamBytes: Int64 = 0
        /// Connections accepted.
        public var connections = 0
        /// Connections cut by ``cut(afterUpstreamBytes:)``, and sockets dropped by ``partition()``.
        public var cuts = 0
    }

    enum Direction { case upstream, downstream }

    private struct Cut: Error {}

    private let upstreamHost: String
    private let upstreamPort: Int
    public nonisolated let profile: Profile
    private var serverChannel: (any Channel)?
    private var serving: Task<Void, Never>?
    private var tally = Counters()
    private var cutAt: Int64?
    private var partitioned = false
    private var live: [ObjectIdentifier: any Channel] = [:]
    /// The loopback port clients connect to (0 until ``start()``).
    public private(set) var listeningPort = 0

    /// A proxy to `upstreamHost:upstreamPort`; ``start()`` binds it.
    public init(upstreamHost: String = "127.0.0.1", upstreamPort: Int, profile: Profile = .loopback) {
        self.upstreamHost = upstreamHost
        self.upstreamPort = upstreamPort
        self.profile = profile
    }

    /// Binds a free loopback port and starts accepting; returns the port.
    public func start() async throws -> Int {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        serverChannel = server.channel
        let port = server.channel.localAddress?.port ?? 0
        listeningPort = port
        serving = Task {
            try? await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { clients in
                    for try await client in clients {
                        group.addTask { await self.carry(client) }
                    }
                }
            }
        }
        return port
    }

    /// Closes the listening socket and every connection.
    public func stop() async {
        try? await serverChannel?.close()
        for channel in live.values { try? await channel.close() }
        serving?.cancel()
        _ = await serving?.value
    }

    /// What the proxy has carried so far.
    public func counters() -> Counters { tally }

    /// Cuts the connection that carries client-to-server byte number `offset` (counted over all
    /// connections from now on): the bytes before it are delivered, then both sides are closed.
    /// One cut per call.
    public func cut(afterUpstreamBytes offset: Int64) {
        cutAt = tally.upstreamBytes + offset
    }

    /// Drops every connection and refuses new ones until ``heal()``.
    public func partition() async {
        partitioned = true
        for channel in live.values { try? await channel.close() }
        tally.cuts += live.count
    }

    public func heal() { partitioned = false }

    // MARK: - Carrying one connection

    private func register(_ channel: any Channel) -> Bool {
        guard !partitioned else { return false }
        live[ObjectIdentifier(channel)] = channel
        return true
    }

    private func unregister(_ channel: any Channel) { live[ObjectIdentifier(channel)] = nil }

    /// Counts `count` bytes; returns how many of them may pass before a pending cut.
    private func admit(_ count: Int, _ direction: Direction) -> Int {
        guard !partitioned else { return 0 }
        switch direction {
        case .downstream:
            tally.downstreamBytes += Int64(count)
            return count
        case .upstream:
            if let cutAt, tally.upstreamBytes + Int64(count) > cutAt {
                let allowed = Int(max(0, cutAt - tally.upstreamBytes))
                tally.upstreamBytes += Int64(allowed)
                self.cutAt = nil
                tally.cuts += 1
                return allowed
            }
            tally.upstreamBytes += Int64(count)
            return count
        }
    }

    private func carry(_ client: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        guard register(client.channel) else {
            try? await client.channel.close()
            return
        }
        defer { unregister(client.channel) }
        tally.connections += 1
        let server: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            server = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: upstreamHost, port: upstreamPort) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            try? await client.channel.close()
            return
        }
        guard register(server.channel) else {
            try? await client.channel.close()
            try? await server.channel.close()
            return
        }
        defer { unregister(server.channel) }
        try? await client.executeThenClose { clientIn, clientOut in
            try await server.executeThenClose { serverIn, serverOut in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await self.pump(clientIn, to: serverOut, .upstream) }
                    group.addTask { try await self.pump(serverIn, to: clientOut, .downstream) }
                    // Either side ending (or a cut) ends the connection.
                    _ = try await group.next()
                    group.cancelAll()
                }
            }
        }
    }

    /// Moves bytes one way: paced by the rate at the reading end, delivered one delay later.
    private nonisolated func pump(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
                                  _ direction: Direction) async throws {
        let clock = ContinuousClock()
        let (deliveries, feed) = AsyncStream<(ContinuousClock.Instant, ByteBuffer?)>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await (due, buffer) in deliveries {
                    try await clock.sleep(until: due)
                    guard let buffer else { throw Cut() }
                    try await outbound.write(buffer)
                }
            }
            var linkFree = clock.now
            do {
                for try await var buffer in inbound {
                    let allowed = await admit(buffer.readableBytes, direction)
                    let cutHere = allowed < buffer.readableBytes
                    if cutHere { buffer = buffer.getSlice(at: buffer.readerIndex, length: allowed) ?? ByteBuffer() }
                    if let rate = profile.bytesPerSecond, buffer.readableBytes > 0 {
                        linkFree = max(linkFree, clock.now) + .seconds(Double(buffer.readableBytes) / Double(rate))
                        try await clock.sleep(until: linkFree)
                    }
                    let due = max(linkFree, clock.now) + profile.oneWayDelay
                    if buffer.readableBytes > 0 { feed.yield((due, buffer)) }
                    if cutHere {
                        feed.yield((due, nil))
                        break
                    }
                }
            }
            feed.finish()
            try await group.waitForAll()
            throw Cut()
        }
    }
}
