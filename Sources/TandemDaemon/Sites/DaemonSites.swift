import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import TandemCore
import TandemPolicy
import TandemSites
import TandemStore

/// What the daemon needs for its site links, built once from the site config.
struct SiteLinks: Sendable {
    let tls: LinkTLS
    let site: SiteConfig

    init?(site: SiteConfig) throws {
        guard let files = site.tls else { return nil }
        tls = try LinkTLS(files: files)
        self.site = site
    }

    var ownLinkRole: String { site.role == .near ? "near" : site.role.rawValue }

    func hello(channel: String) -> LinkHello {
        LinkHello(site: site.siteName, role: ownLinkRole, protocolMin: LinkHandshake.protocolMin,
                  protocolMax: LinkHandshake.protocolMax, features: LinkHandshake.features, channel: channel,
                  safety: site.heartbeat.fingerprint)
    }

    var expectedPeers: [LinkHandshake.Expected] {
        site.peers.map { LinkHandshake.Expected(site: $0.name, role: $0.role.linkRole, sameSafety: $0.role == .twin) }
    }

    /// The twin mirror, for a near site with a twin peer: the same protocol as shipping, to
    /// the twin, with every write tagged with the tenant's epoch; its queues live in `STATE/twin`.
    func twinMirror(backend: any Backend, logger: Logger, indexPath: @escaping @Sendable (String) -> String,
                    epoch: @escaping @Sendable (String) async -> UInt64?) -> Shipper? {
        guard site.role == .near, let twin = site.peers.first(where: { $0.role == .twin }) else { return nil }
        var peer = Shipper.Remote(site: twin.name, host: twin.address.host, port: twin.address.port, tls: tls,
                                  hello: hello(channel: "bulk"), epoch: epoch)
        peer.label = "the twin"
        peer.mirrorsDeletions = true
        return Shipper(backend: backend, stateDirectory: site.stateDirectory + "/twin", remote: peer, logger: logger, indexPath: indexPath)
    }

    /// The client toward the witness (the remote peer, or a `witness` peer), for a near site
    /// with a twin: degraded-mode records go there.
    func witnessLink(backend: any Backend, logger: Logger) -> PeerClient? {
        guard site.role == .near, site.peers.contains(where: { $0.role == .twin }),
              let witness = site.peers.first(where: { $0.role == .remote || $0.role == .witness }) else { return nil }
        return PeerClient(peer: .init(site: witness.name, host: witness.address.host, port: witness.address.port, tls: tls,
                                      hello: hello(channel: "bulk")),
                          backend: backend, logger: logger)
    }

    /// The shipper toward the remote peer, for a near site that has one.
    func shipper(backend: any Backend, logger: Logger, indexPath: @escaping @Sendable (String) -> String) -> Shipper? {
        guard site.role == .near, let remote = site.peers.first(where: { $0.role == .remote }) else { return nil }
        return Shipper(backend: backend, stateDirectory: site.stateDirectory,
                       remote: .init(site: remote.name, host: remote.address.host, port: remote.address.port, tls: tls,
                                     hello: hello(channel: "bulk")),
                       logger: logger, siteBandwidth: site.shipping.bandwidth, indexPath: indexPath)
    }
}

/// Accepts peers' links: heartbeats on control connections; on bulk connections, shipped
/// packs and manifests, stored by a ``TandemSites/RemoteReceiver`` (append-only, no keys).
struct LinkService: Service {
    let daemon: Daemon
    let links: SiteLinks
    let listen: HostPort
    let receiver: RemoteReceiver

    func run() async throws {
        let logger = daemon.logger
        let server = LinkServer(host: listen.host, port: listen.port, tls: links.tls, localSite: links.site.siteName,
                                localSafety: links.site.heartbeat.fingerprint, peers: links.expectedPeers, logger: logger,
                                onRequest: { peer, request, body in
                                    await answer(peer: peer, request: request, body: body, logger: logger)
                                },
                                onHeartbeat: { peer, _ in await daemon.heard(from: peer) })
        try await untilGracefulShutdown {
            try await server.serve { address in
                logger.notice("site link listening", metadata: ["address": "\(address)"])
            }
        }
    }
}

extension LinkService {
    /// The remote site stores what near sites ship. A near site takes its twin's mirror,
    /// behind the epoch fence: a stale write is refused, counted and logged with the peer.
    func answer(peer: String, request: LinkRequest, body: ArraySlice<UInt8>, logger: Logger) async -> (LinkResponse, [UInt8]) {
        if request.operation.isPlacement {
            guard let coordinator = await daemon.placement.coordinator else {
                return (LinkResponse.refused(id: request.id, "site \(links.site.siteName) takes no part in leases"), [])
            }
            return (await coordinator.answer(request, from: peer), [])
        }
        switch links.site.role {
        case .remote:
            return await receiver.respond(peer: peer, request: request, body: body)
        case .near where links.site.peers.contains(where: { $0.name == peer && $0.role == .twin }):
            guard let fence = await daemon.placement.fence else {
                return (LinkResponse.refused(id: request.id, "site \(links.site.siteName) has no mirror state"), [])
            }
            if let refusal = await fence.refusal(for: request) {
                logger.warning("mirrored write refused", metadata: ["peer": "\(peer)", "tenant": "\(request.tenant)", "op": "\(request.operation.rawValue)",
                                                                    "reason": "\(refusal)"])
                daemon.metrics.staleWriteRefused(tenant: request.tenant)
                return (LinkResponse.refused(id: request.id, refusal), [])
            }
            return await receiver.respond(peer: peer, request: request, body: body)
        default:
            return (LinkResponse.refused(id: request.id, "site \(links.site.siteName) stores no data from \(peer) (it is not this site's twin, and this is not a remote site)"), [])
        }
    }
}

/// Catches the twin up: every `retry` seconds, when a snapshot commits without reaching the
/// twin, and when the twin's link comes up, the active tenants' queues are shipped to the
/// twin (only what it lacks).
struct TwinSyncService: Service {
    let daemon: Daemon
    let mirror: Shipper
    let retry: Double

    func run() async throws {
        let bell = await daemon.mirroring.bell
        try await untilGracefulShutdown {
            while !Task.isCancelled {
                let tenants = await daemon.activeTenantNames()
                let clock = daemon.clock
                if !tenants.isEmpty { await mirror.shipAll(tenants: tenants, now: { clock.now() }) }
                await daemon.clearTwinOutdated()
                await daemon.publishTwinMetrics()
                await bell.wait(timeout: .seconds(retry))
            }
        }
    }
}

/// Drives the lease coordinator: ticks its machines a few times per heartbeat interval, and
/// carries its placement changes to the daemon.
struct LeaseService: Service {
    let daemon: Daemon
    let coordinator: LeaseCoordinator
    let interval: Double

    func run() async throws {
        let changes = coordinator.changes
        try await untilGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await change in changes {
                        switch change {
                        case .placement(let tenant, let active, let epoch, let cause):
                            await daemon.placementChanged(tenant: tenant, active: active, epoch: epoch, cause: cause)
                        case .lease(let tenant, let held):
                            await daemon.leaseChanged(tenant: tenant, held: held)
                        }
                    }
                }
                while !Task.isCancelled {
                    await coordinator.tick()
                    try? await Task.sleep(for: .seconds(interval / 5))
                }
                group.cancelAll()
            }
        }
    }
}

/// Sends heartbeats to every peer on a control connection each, reconnecting after failures.
struct HeartbeatService: Service {
    let daemon: Daemon
    let links: SiteLinks

    func run() async throws {
        let interval = links.site.heartbeat.interval
        try await untilGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for peer in links.site.peers {
                    group.addTask {
                        var sequence: UInt64 = 0
                        while !Task.isCancelled {
                            do {
                                try await LinkConnection.with(host: peer.address.host, port: peer.address.port, peer: peer.name,
                                                              tls: links.tls, hello: links.hello(channel: "control")) { connection in
                                    await daemon.linkUp(peer.name)
                                    let coordinator = await daemon.placement.coordinator
                                    var lastBeat = ContinuousClock.now - .seconds(interval)
                                    while !Task.isCancelled {
                                        if ContinuousClock.now - lastBeat >= .seconds(interval) {
                                            sequence += 1
                                            try await connection.send(.heartbeat(LinkHeartbeat(site: links.site.siteName, sequence: sequence)))
                                            lastBeat = ContinuousClock.now
                                        }
                                        // Lease requests and takeover questions for this peer.
                                        for request in await coordinator?.outgoing(for: peer.name) ?? [] {
                                            do {
                                                let response = try await connection.request(request)
                                                await coordinator?.delivered(response, to: request, peer: peer.name)
                                            } catch {
                                                await coordinator?.undelivered(request, peer: peer.name)
                                                throw error
                                            }
                                        }
                                        try await Task.sleep(for: .seconds(interval / 5))
                                    }
                                }
                            } catch {
                                await daemon.linkDown(peer.name, error: "\(error)")
                                // What could not go counts as unanswered (a takeover question
                                // to a dead witness must not wait forever).
                                if let coordinator = await daemon.placement.coordinator {
                                    for request in await coordinator.outgoing(for: peer.name) {
                                        await coordinator.undelivered(request, peer: peer.name)
                                    }
                                }
                                try? await Task.sleep(for: .seconds(interval))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Ships committed snapshots to the remote site: at once when a backup commits, and every
/// `retry` seconds while anything is pending or failed.
struct ShipperService: Service {
    let daemon: Daemon
    let shipper: Shipper
    let retry: Double

    func run() async throws {
        let bell = await daemon.shipping.bell
        try await untilGracefulShutdown {
            while !Task.isCancelled {
                let tenants = await daemon.policies.tenants.map(\.tenant)
                let clock = daemon.clock
                await shipper.shipAll(tenants: tenants, now: { clock.now() })
                await daemon.checkRemoteRPO()
                await bell.wait(timeout: .seconds(retry))
            }
        }
    }
}

extension Daemon {
    func heard(from peer: String) async {
        placement.peers[peer, default: PeerState()].lastHeartbeat = clock.now()
        await placement.coordinator?.heard(from: peer)
    }

    func linkUp(_ peer: String) {
        if placement.peers[peer]?.outgoingUp != true {
            logger.notice("heartbeat link up", metadata: ["peer": "\(peer)"])
            // The twin is back: catch it up now.
            if peer == twinName { mirroring.bell.ring() }
        }
        placement.peers[peer, default: PeerState()].outgoingUp = true
        placement.peers[peer, default: PeerState()].lastError = nil
    }

    func linkDown(_ peer: String, error: String) {
        if placement.peers[peer]?.outgoingUp != false { logger.warning("heartbeat link down", metadata: ["peer": "\(peer)", "error": "\(error)"]) }
        placement.peers[peer, default: PeerState()].outgoingUp = false
        placement.peers[peer, default: PeerState()].lastError = error
    }

    /// The remote shipping figures, for a scrape (``checkRemoteRPO()`` also logs).
    func publishRemoteMetrics() async { await checkRemoteRPO(log: false) }

    /// Logs and counts tenants whose remote RPO exceeds their policy's `remote_rpo`.
    func checkRemoteRPO(log: Bool = true) async {
        guard let shipper = shipping.shipper else { return }
        let now = clock.now()
        for policy in policies.tenants {
            let queue = await shipper.queue(policy.tenant)
            let rpo = queue.remoteRPO(now: now)
            // The remote RPO is the active site's to keep: at its twin the objective is not
            // judged (no false alert on every tenant's twin).
            let objective = isActiveHere(policy) ? policy.remoteRPO : nil
            metrics.remote(tenant: policy.tenant, rpo: rpo, lag: queue.lag(now: now), pending: queue.pending.count,
                           pendingBytes: queue.pendingBytes, objective: objective)
            if log, let objective, (rpo ?? .infinity) > objective, !queue.pending.isEmpty || rpo != nil {
                logger.warning("remote RPO objective exceeded", metadata: [
                    "tenant": "\(policy.tenant)", "rpo_seconds": "\(rpo.map { Int($0) }.map(String.init) ?? "none at remote")",
                    "objective_seconds": "\(Int(objective))"])
            }
        }
    }
}
