import Foundation
import Logging
import NIOCore
import TandemCore
import TandemExport
import TandemMount
import TandemStore

/// What tandemd serves for operators and tenant users without handing them the repository or
/// the key: an image snapshot over NBD (`tandemctl serve --tenant T SNAPSHOT`), or a tenant's
/// snapshots to the FUSE mount `tandemctl mount --tenant T DIR` makes as the user.
///
/// Each export listens on `exports/ID/nbd.sock` (or `mount.sock`) beside the control socket,
/// in a folder of the daemon's own (made 0700, opened to traversal, 0711, once the socket is
/// bound): the caller can put nothing there for the daemon to trip over. The server admits
/// only the caller's uid and root, by `SO_PEERCRED` as on the control socket, and closes
/// anyone else's connection at once; nothing needs chowning, so a daemon running as its own
/// user can. An export lasts while the control connection that asked for it stays open: its
/// client ending, however it ends (a signal, `kill -9`), ends the export. Starts and ends are
/// audited. Exports run as children of ``run()``, so stopping the daemon ends them all.
actor ExportService {
    /// At most this many exports of one tenant at once (each holds a decoded-chunk cache).
    static let perTenant = 4
    /// And this many in all.
    static let total = 16
    /// Each export's cache of decoded chunks.
    static let cacheBytes = 64 << 20

    /// `exports/` beside the control socket.
    let directory: String
    let daemon: Daemon
    let logger: Logger
    /// Exports being served, and the role of whoever asked (for the audit record of the end).
    private var running: [String: (info: ExportInfo, role: String)] = [:]
    private var accepting = true
    private let launches: AsyncStream<Launch>
    private let launcher: AsyncStream<Launch>.Continuation

    /// The service stopped before the export could start.
    private struct NotLaunched: Error {}

    /// A server that listens at a socket path until cancelled, calling back once bound.
    typealias Server = @Sendable (String, @Sendable (NBDAddress) async -> Void) async throws -> Void

    /// One export ready to start: what it serves open, its folder made.
    struct Launch: Sendable {
        let info: ExportInfo
        let server: Server
        /// Closes what the server reads (the image, the mounted repository).
        let close: @Sendable () async -> Void
        let folder: String
        let closed: EventLoopFuture<Void>
        let started: CheckedContinuation<Void, any Error>
    }

    init(controlSocket: String, daemon: Daemon, logger: Logger) {
        directory = (controlSocket as NSString).deletingLastPathComponent + "/exports"
        self.daemon = daemon
        self.logger = logger
        (launches, launcher) = AsyncStream<Launch>.makeStream()
    }

    /// Serves exports until cancelled; first removes what a daemon that died left behind.
    func run() async {
        ExportFolders.clearLeftovers(in: directory, logger: logger)
        await withDiscardingTaskGroup { group in
            for await launch in launches {
                group.addTask { await self.serve(launch) }
            }
        }
        stopAccepting()
    }

    private func stopAccepting() {
        accepting = false
        launcher.finish()
    }

    /// What `caller` may see: every export for an operator, its tenants' for a tenant user.
    func list(for caller: Caller) -> [ExportInfo] {
        running.values.map(\.info).filter { caller.may(actOn: $0.tenant) }.sorted { $0.startedAt < $1.startedAt }
    }

    /// The audit action of an export of `kind`.
    static func action(_ kind: ExportKind) -> String { kind == .mount ? "mount" : "serve" }

    /// Opens what `request` asks of `tenant` and serves it until `closed` completes; returns
    /// once it listens. `gid` is the caller's group (a mount's root and images show it).
    func start(tenant: String, request: ExportRequest, caller: Caller, gid: UInt32,
               closed: EventLoopFuture<Void>?) async throws -> ExportInfo {
        let kind = request.kind ?? .nbd
        let detail = request.snapshot.map { "snapshot=\($0)" } ?? "all snapshots"
        do {
            guard let closed else { throw DaemonError.badRequest("exports are served for a control connection on the Unix socket") }
            guard accepting else { throw DaemonError.busy("tandemd is stopping") }
            guard running.values.filter({ $0.info.tenant == tenant }).count < Self.perTenant else {
                throw DaemonError.busy("tenant \(tenant) has \(Self.perTenant) exports served already; end one (its tandemctl serve or mount) first")
            }
            guard running.count < Self.total else {
                throw DaemonError.busy("tandemd serves \(Self.total) exports already; end one first")
            }
            let policy = try await daemon.policy(tenant)
            let id = String(format: "%012llx", UInt64.random(in: 0..<(1 << 48)))
            let (server, close, snapshot, size): (Server, @Sendable () async -> Void, String?, Int64?)
            switch kind {
            case .nbd:
                guard let reference = request.snapshot else { throw DaemonError.badRequest("an nbd export needs a snapshot") }
                let image = try await SnapshotImage.open(tenant: try await daemon.openTenant(policy), reference: reference,
                                                         cacheLimit: Self.cacheBytes)
                let nbd = NBDServer(image: image, export: NBDServerMachine.Export(name: String(image.snapshotID.prefix(12)), size: UInt64(image.size),
                                                                                  description: "tandem tenant \(tenant) snapshot \(image.snapshotID)"),
                                    logger: logger, allowedUIDs: [caller.uid, 0])
                (server, close, snapshot, size) = ({ try await nbd.serve(at: .unix($0), onBound: $1) }, { await image.close() },
                                                   image.snapshotID, Int64(image.size))
            case .mount:
                guard request.snapshot == nil else { throw DaemonError.badRequest("a mount shows every snapshot of the tenant; it takes none") }
                let mounted = try await MountedRepository.open(tenant: try await daemon.openTenant(policy), cacheLimit: Self.cacheBytes,
                                                               logger: logger, owner: (caller.uid, gid))
                let mount = MountServer(fileSystem: mounted, name: id, logger: logger, allowedUIDs: [caller.uid, 0])
                (server, close, snapshot, size) = ({ try await mount.serve(at: $0, onBound: $1) }, { await mounted.close() }, nil, nil)
            }
            let folder: String
            do {
                folder = try ExportFolders.make(id, in: directory)
            } catch {
                await close()
                throw error
            }
            let socket = folder + "/" + ExportFolders.socketName(kind)
            let info = ExportInfo(id: id, kind: kind, tenant: tenant, snapshotId: snapshot, size: size, socket: socket,
                                  uri: kind == .nbd ? NBDAddress.unix(socket).uri() : nil, ownerUid: caller.uid, actor: caller.actor,
                                  startedAt: daemon.clock.now())
            running[id] = (info, caller.roleName)
            do {
                try await withCheckedThrowingContinuation { started in
                    let launch = Launch(info: info, server: server, close: close, folder: folder, closed: closed, started: started)
                    if case .terminated = launcher.yield(launch) { started.resume(throwing: NotLaunched()) }
                }
            } catch is NotLaunched {
                // What serve() would have closed is closed here.
                running[id] = nil
                await close()
                ExportFolders.remove(folder, logger: logger)
                throw DaemonError.busy("tandemd is stopping")
            } catch {
                running[id] = nil
                throw error
            }
            await daemon.record(actor: caller.actor, role: caller.roleName, action: Self.action(kind), tenant: tenant,
                                detail: "\(detail)\(snapshot.map { " snapshot_id=\($0)" } ?? "") export=\(id) socket=\(socket)", result: "ok")
            logger.notice("export started", metadata: ["tenant": "\(tenant)", "kind": "\(kind.rawValue)", "snapshot": "\(snapshot?.prefix(12) ?? "all")",
                                                       "export": "\(id)", "for": "\(caller.actor)", "socket": "\(socket)"])
            return info
        } catch {
            await daemon.record(actor: caller.actor, role: caller.roleName, action: Self.action(kind), tenant: tenant, detail: detail,
                                result: "failed: \(Daemon.describe(error))")
            throw error
        }
    }

    /// One export, from bind to the end: the launcher's `started` is resumed exactly once.
    private nonisolated func serve(_ launch: Launch) async {
        let info = launch.info
        let (ends, end) = AsyncStream<String>.makeStream()
        launch.closed.whenComplete { _ in end.yield("its client's control connection closed") }
        var began = false
        var why = "tandemd is stopping"
        do {
            why = try await withThrowingTaskGroup(of: String.self) { group in
                let (bound, listening) = AsyncStream<Void>.makeStream()
                group.addTask {
                    defer { listening.finish() }
                    try await launch.server(info.socket) { _ in listening.yield() }
                    return "its server stopped"
                }
                var ready = false
                for await _ in bound {
                    ready = true
                    break
                }
                guard ready else {
                    _ = try await group.next()
                    throw DaemonError.io("the server of export \(info.id) stopped before it listened")
                }
                try ExportFolders.open(info.socket, folder: launch.folder)
                began = true
                launch.started.resume()
                group.addTask {
                    for await reason in ends { return reason }
                    return "tandemd is stopping"
                }
                let reason = try await group.next() ?? why
                group.cancelAll()
                return reason
            }
        } catch {
            why = "failed: \(Daemon.describe(error))"
            if !began { launch.started.resume(throwing: error) }
        }
        end.finish()
        await launch.close()
        ExportFolders.remove(launch.folder, logger: logger)
        guard began else { return }
        await ended(info, why: why)
    }

    private func ended(_ info: ExportInfo, why: String) async {
        let role = running.removeValue(forKey: info.id)?.role ?? "operator"
        let seconds = daemon.clock.now().timeIntervalSince(info.startedAt)
        await daemon.record(actor: info.actor, role: role, action: Self.action(info.kind) + "-end", tenant: info.tenant,
                            detail: "export=\(info.id)\(info.snapshotId.map { " snapshot_id=\($0)" } ?? "") seconds=\(String(format: "%.1f", seconds))",
                            result: why)
        logger.notice("export ended", metadata: ["tenant": "\(info.tenant)", "export": "\(info.id)", "why": "\(why)"])
    }
}
