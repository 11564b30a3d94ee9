import Foundation
import Logging
import NIOCore
import TandemCore
import TandemExport
import TandemStore
#if canImport(Glibc)
import Glibc
#endif

/// Image snapshots tandemd serves over NBD for operators and tenant users (`tandemctl serve
/// --tenant T SNAPSHOT` without `--repo`), so that a tenant can boot from a backup without
/// reading the repository or holding its key.
///
/// Each export listens on `exports/ID/nbd.sock` beside the control socket, in a folder of the
/// daemon's own (made 0700, opened to traversal, 0711, once the socket is bound): the caller
/// can put nothing there for the daemon to trip over. The server admits only the caller's uid
/// and root, by `SO_PEERCRED` as on the control socket, and closes anyone else's connection
/// before the greeting; nothing needs chowning, so a daemon running as its own user can. An
/// export lasts while the control connection that asked for it stays open: its client ending,
/// however it ends (a signal, `kill -9`), ends the export. Starts and ends are audited.
/// Exports run as children of ``run()``, so stopping the daemon ends them all.
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

    /// One export ready to start: its image open, its folder made.
    struct Launch: Sendable {
        let info: ExportInfo
        let image: SnapshotImage
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

    /// Opens `request.snapshot` of `tenant` and serves it until `closed` completes; returns
    /// once the socket is the caller's and listening.
    func start(tenant: String, request: ExportRequest, caller: Caller, closed: EventLoopFuture<Void>?) async throws -> ExportInfo {
        let detail = "snapshot=\(request.snapshot)"
        do {
            guard let closed else { throw DaemonError.badRequest("exports are served for a control connection on the Unix socket") }
            guard accepting else { throw DaemonError.busy("tandemd is stopping") }
            guard running.values.filter({ $0.info.tenant == tenant }).count < Self.perTenant else {
                throw DaemonError.busy("tenant \(tenant) has \(Self.perTenant) exports served already; end one (its tandemctl serve) first")
            }
            guard running.count < Self.total else {
                throw DaemonError.busy("tandemd serves \(Self.total) exports already; end one first")
            }
            let policy = try await daemon.policy(tenant)
            let image = try await SnapshotImage.open(tenant: try await daemon.openTenant(policy), reference: request.snapshot,
                                                     cacheLimit: Self.cacheBytes)
            let info: ExportInfo
            let folder: String
            do {
                let id = String(format: "%012llx", UInt64.random(in: 0..<(1 << 48)))
                folder = try ExportFolders.make(id, in: directory)
                let socket = folder + "/nbd.sock"
                info = ExportInfo(id: id, tenant: tenant, snapshotId: image.snapshotID, size: Int64(image.size), socket: socket,
                                  uri: NBDAddress.unix(socket).uri(), ownerUid: caller.uid, actor: caller.actor,
                                  startedAt: daemon.clock.now())
            } catch {
                await image.close()
                throw error
            }
            running[info.id] = (info, caller.roleName)
            do {
                try await withCheckedThrowingContinuation { started in
                    let launch = Launch(info: info, image: image, folder: folder, closed: closed, started: started)
                    if case .terminated = launcher.yield(launch) { started.resume(throwing: NotLaunched()) }
                }
            } catch is NotLaunched {
                // What serve() would have closed is closed here.
                running[info.id] = nil
                await image.close()
                ExportFolders.remove(folder, logger: logger)
                throw DaemonError.busy("tandemd is stopping")
            } catch {
                running[info.id] = nil
                throw error
            }
            await daemon.record(actor: caller.actor, role: caller.roleName, action: "serve", tenant: tenant,
                                detail: "\(detail) snapshot_id=\(info.snapshotId) export=\(info.id) socket=\(info.socket)", result: "ok")
            logger.notice("serving a snapshot over NBD", metadata: ["tenant": "\(tenant)", "snapshot": "\(info.snapshotId.prefix(12))",
                                                                    "export": "\(info.id)", "for": "\(caller.actor)", "socket": "\(info.socket)"])
            return info
        } catch {
            await daemon.record(actor: caller.actor, role: caller.roleName, action: "serve", tenant: tenant, detail: detail,
                                result: "failed: \(Daemon.describe(error))")
            throw error
        }
    }

    /// One export, from bind to the end: the launcher's `started` is resumed exactly once.
    private nonisolated func serve(_ launch: Launch) async {
        let info = launch.info
        let server = NBDServer(image: launch.image,
                               export: NBDServerMachine.Export(name: String(info.snapshotId.prefix(12)), size: UInt64(info.size),
                                                               description: "tandem tenant \(info.tenant) snapshot \(info.snapshotId)"),
                               logger: logger, allowedUIDs: [info.ownerUid, 0])
        let (ends, end) = AsyncStream<String>.makeStream()
        launch.closed.whenComplete { _ in end.yield("its client's control connection closed") }
        var began = false
        var why = "tandemd is stopping"
        do {
            why = try await withThrowingTaskGroup(of: String.self) { group in
                let (bound, listening) = AsyncStream<Void>.makeStream()
                group.addTask {
                    defer { listening.finish() }
                    try await server.serve(at: .unix(info.socket)) { _ in listening.yield() }
                    return "its NBD server stopped"
                }
                var ready = false
                for await _ in bound {
                    ready = true
                    break
                }
                guard ready else {
                    _ = try await group.next()
                    throw DaemonError.io("the NBD server of export \(info.id) stopped before it listened")
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
        await launch.image.close()
        ExportFolders.remove(launch.folder, logger: logger)
        guard began else { return }
        await ended(info, why: why)
    }

    private func ended(_ info: ExportInfo, why: String) async {
        let role = running.removeValue(forKey: info.id)?.role ?? "operator"
        let seconds = daemon.clock.now().timeIntervalSince(info.startedAt)
        await daemon.record(actor: info.actor, role: role, action: "serve-end", tenant: info.tenant,
                            detail: "export=\(info.id) snapshot_id=\(info.snapshotId) seconds=\(String(format: "%.1f", seconds))", result: why)
        logger.notice("stopped serving a snapshot", metadata: ["tenant": "\(info.tenant)", "export": "\(info.id)", "why": "\(why)"])
    }
}
