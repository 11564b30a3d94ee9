import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import TandemPolicy
import TandemCore
import TandemSites

/// Starts `tandemd`: loads and validates the configuration, opens the daemon, and runs its
/// services in one group until SIGTERM/SIGINT (graceful: reverse order, running backups
/// cancelled without a partial snapshot).
///
/// Service order (shutdown runs it backwards): metrics, job runner, scheduler, reload,
/// control socket, systemd notifier.
public enum DaemonRunner {
    public static func run(configPath: String, clock: any DaemonClock = SystemClock(), logger: Logger) async throws {
        let policies: PolicySet
        do {
            policies = try PolicySet.load(configPath: configPath)
        } catch {
            for problem in error.errors { logger.critical("configuration error", metadata: ["error": "\(problem)"]) }
            throw DaemonError.config(error.description)
        }
        let daemon = try await Daemon.open(policies: policies, configPath: policies.site.file, clock: clock, logger: logger)
        await daemon.started()
        let notifier = SystemdNotifier()
        let (ready, readyContinuation) = AsyncStream.makeStream(of: Void.self)
        let metricsBox = AddressBox()
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let address = policies.site.metricsAddress {
            services.append(.init(service: MetricsService(daemon: daemon, address: address, logger: logger, bound: metricsBox),
                                  serviceName: "metrics"))
        }
        if let links = try SiteLinks(site: policies.site) {
            let location = policies.site.repository
            if let shipper = links.shipper(backend: daemon.repository.backend, logger: logger,
                                           indexPath: { Daemon.indexPath(for: $0, in: location) }) {
                await daemon.setShipper(shipper)
                services.append(.init(service: ShipperService(daemon: daemon, shipper: shipper, retry: policies.site.shipping.retry),
                                      successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "shipper"))
            }
            // Leases: every site votes; a near site with a twin and a witness holds and fails over.
            let site = policies.site
            let twinPeer = site.role == .near ? site.peers.first { $0.role == .twin }?.name : nil
            let witnessPeer = site.role == .near ? site.peers.first { $0.role == .remote || $0.role == .witness }?.name : nil
            let coordinator = LeaseCoordinator(site: site.siteName, twin: twinPeer, witness: witnessPeer,
                                               settings: try site.heartbeat.leaseSettings(), stateDirectory: site.stateDirectory,
                                               logger: logger)
            await daemon.setCoordinator(coordinator,
                                        witness: links.witnessLink(backend: daemon.repository.backend, logger: logger))
            await coordinator.configure(tenants: policies.tenants.map { ($0.tenant, $0.homeSite) })
            services.append(.init(service: LeaseService(daemon: daemon, coordinator: coordinator, interval: site.heartbeat.interval),
                                  successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "leases"))
            let fence = MirrorFence(stateDirectory: policies.site.stateDirectory)
            let mirror = links.twinMirror(backend: daemon.repository.backend, logger: logger,
                                          indexPath: { Daemon.indexPath(for: $0, in: location) },
                                          epoch: { await daemon.epoch(of: $0) })
            await daemon.setTwin(mirror, fence: fence)
            if let mirror {
                services.append(.init(service: TwinSyncService(daemon: daemon, mirror: mirror, retry: policies.site.shipping.retry),
                                      successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "twin"))
            }
            if let listen = policies.site.listenAddress {
                // The remote applies its own retention to what it receives; a twin's copy
                // follows its active site.
                let isRemote = policies.site.role == .remote
                let receiver = RemoteReceiver(backend: daemon.repository.backend,
                                              retention: { isRemote ? await daemon.ownRetention(for: $0) : nil },
                                              mirror: !isRemote, logger: logger)
                await daemon.setReceiver(receiver)
                services.append(.init(service: LinkService(daemon: daemon, links: links, listen: listen, receiver: receiver),
                                      successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "links"))
            }
            if !policies.site.peers.isEmpty {
                services.append(.init(service: HeartbeatService(daemon: daemon, links: links),
                                      successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "heartbeats"))
            }
        }
        services += [
            .init(service: JobRunnerService(daemon: daemon), successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "jobs"),
            .init(service: SchedulerService(daemon: daemon), successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "scheduler"),
            .init(service: ReloadService(daemon: daemon, notifier: notifier), successTerminationBehavior: .gracefullyShutdownGroup,
                  serviceName: "reload"),
            .init(service: ControlService(daemon: daemon, path: policies.site.controlSocket, logger: logger, metrics: metricsBox,
                                          ready: readyContinuation),
                  successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "control"),
            .init(service: NotifierService(daemon: daemon, notifier: notifier, ready: ready),
                  successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "systemd"),
        ]
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
        await daemon.stopped()
    }
}

/// The metrics endpoint's bound address, once known (port 0 picks a free port).
actor AddressBox {
    private(set) var address: String?
    func set(_ value: String) { address = value }
}

/// The control API on the Unix socket (mode 0666: the daemon authorizes each connection by
/// its peer's uid, not by file permissions).
struct ControlService: Service {
    let daemon: Daemon
    let path: String
    let logger: Logger
    let metrics: AddressBox
    let ready: AsyncStream<Void>.Continuation

    func run() async throws {
        let exports = ExportService(controlSocket: path, daemon: daemon, logger: logger)
        let router = ControlRouter(daemon: daemon, logger: logger, exports: exports, metricsAddress: { await metrics.address })
        let server = HTTPServer(listener: .unix(path: path, mode: 0o666), logger: logger) { await router.handle($0) }
        try await untilGracefulShutdown {
            // The exports end with the control socket: each lasts while its client's connection does.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await exports.run() }
                group.addTask {
                    try await server.serve { address in
                        logger.notice("control socket listening", metadata: ["path": "\(path)"])
                        ready.yield()
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        }
        unlink(path)
    }
}

/// Prometheus text format at `/metrics` on a loopback TCP port.
struct MetricsService: Service {
    let daemon: Daemon
    let address: HostPort
    let logger: Logger
    let bound: AddressBox

    func run() async throws {
        let metrics = daemon.metrics
        let server = HTTPServer(listener: .tcp(host: address.host, port: address.port), logger: logger) { request in
            guard request.method == .GET, request.path == "/metrics" else {
                return HTTPResponse(status: .notFound, contentType: "text/plain", body: Array("try /metrics\n".utf8))
            }
            await daemon.refreshLiveMetrics()
            return HTTPResponse(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(metrics.render().utf8))
        }
        try await untilGracefulShutdown {
            try await server.serve { socketAddress in
                let text = "\(socketAddress.ipAddress ?? address.host):\(socketAddress.port ?? address.port)"
                await bound.set(text)
                logger.notice("metrics listening", metadata: ["address": "\(text)"])
            }
        }
    }
}

extension Daemon {
    /// This site's retention for a tenant (its policy's entry for this site, else `default`).
    func ownRetention(for tenant: String) -> (policy: RetentionPolicy, timeZone: TimeZone)? {
        guard let policy = policies.tenant(tenant), let rules = policy.retention(forSite: policies.site.siteName) else { return nil }
        return (rules, policy.timeZone)
    }

    /// Logged, audited and measured once at start: the tenants and their metric series.
    func started() async {
        for policy in policies.tenants {
            metrics.declare(policy)
            for peer in policies.site.peers { metrics.peer(peer.name, heartbeatAge: nil, linkUp: false) }
            if let index = try? index(for: policy.tenant) {
                let used = (try? index.packs().values.reduce(Int64(0)) { $0 + Int64($1) }) ?? 0
                let snapshots = (try? index.snapshots()) ?? []
                metrics.usage(tenant: policy.tenant, stored: used, snapshots: snapshots.count,
                              logicalBytes: snapshots.reduce(Int64(0)) { $0 + $1.size }, quota: policy.quota.hard)
                // A restart does not make the newest backup look infinitely old to the rpo alert.
                if let newest = snapshots.map(\.time).max() { metrics.lastSuccess(tenant: policy.tenant, at: newest) }
            } else {
                // A tenant with nothing here yet still has its series (at zero).
                metrics.usage(tenant: policy.tenant, stored: 0, snapshots: 0, logicalBytes: 0, quota: policy.quota.hard)
            }
        }
        await publishDrillRecords()
        logger.notice("tandemd starting", metadata: ["site": "\(policies.site.siteName)", "tenants": "\(policies.tenants.count)",
                                                      "config": "\(configPath)", "version": "\(TandemVersion.current)"])
        await record(actor: "daemon", role: "daemon", action: "start", tenant: nil, detail: "config=\(configPath)", result: "ok")
    }

    /// The figures that change with time alone (lease remaining, heartbeat ages), and where
    /// each tenant is: refreshed for each scrape.
    func refreshLiveMetrics() async {
        let now = clock.now()
        for policy in policies.tenants {
            let view = await placement.coordinator?.leaseView(policy.tenant)
            let remaining = view?.expires.map { max(0, $0.timeIntervalSince(Date())) } ?? 0
            metrics.placement(tenant: policy.tenant, active: isActiveHere(policy), epoch: await epoch(of: policy.tenant) ?? 0,
                              leaseRemaining: remaining)
        }
        for policy in policies.tenants {
            if let held = await heldHere(policy) {
                metrics.held(tenant: policy.tenant, stored: held.stored, snapshots: held.snapshots, quota: policy.quota.hard)
            }
        }
        await publishTwinMetrics()
        await publishRemoteMetrics()
        for peer in policies.site.peers {
            let state = placement.peers[peer.name]
            metrics.peer(peer.name, heartbeatAge: state?.lastHeartbeat.map { max(0, now.timeIntervalSince($0)) }, linkUp: state?.outgoingUp ?? false)
        }
    }

    func stopped() async {
        await record(actor: "daemon", role: "daemon", action: "stop", tenant: nil, detail: "", result: "ok")
        logger.notice("tandemd stopped")
    }
}
