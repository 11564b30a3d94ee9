import ArgumentParser
import Foundation
import Logging
import TandemCore
import TandemMount
import TandemStore
import UnixSignals

/// `tandemctl mount [--repo DIR] --tenant T MOUNTPOINT`: every snapshot of the tenant, read-only
/// through FUSE, files read chunk by chunk as they are read, until SIGINT, SIGTERM or `umount`.
/// Offline this process reads the repository; otherwise tandemd does (it holds the key) and
/// this process only mounts, as the user.
struct Mount: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mount a tenant's snapshots read-only through FUSE, reading chunks on demand.",
        discussion: """
            MOUNTPOINT/snapshots/<time>-<id> holds each snapshot (latest: a symlink to the newest): a tree with its modes,
            owners, nanosecond mtimes, symlinks, hard links and xattrs, or an image as one file named after its source.
            Every chunk is authenticated as a restore's is; a damaged one reads as EIO, never as wrong bytes.
            The mount point must be an empty directory. Unmounts on SIGINT or SIGTERM (or umount MOUNTPOINT);
            the tenant stays locked shared meanwhile, so no prune removes what is read. Needs /dev/fuse (Debian: fuse3).
            Without --repo, tandemd reads the snapshots (operators, and a tenant's own uids for that tenant): this command
            mounts them as you, over a socket tandemd opens to your uid alone; the root of the mount is yours (0500).
            """)

    @OptionGroup var location: RepositoryChoice
    @OptionGroup var tenant: TenantOptions
    @Argument(help: "An empty directory to mount at.") var mountPoint: String
    @Option(help: ArgumentHelp("Decoded chunks kept in memory, in MiB.", valueName: "MIB")) var cacheMib = 64

    func validate() throws {
        if location.offline == nil && tenant.keyFile != nil {
            throw ValidationError("--key-file needs --repo DIR: tandemd unlocks the tenant with its own key")
        }
        guard (1...65536).contains(cacheMib) else { throw ValidationError("--cache-mib must be 1...65536, not \(cacheMib)") }
    }

    func run() async throws {
        try await Failure.guarded {
            try MountPoint.check(mountPoint)
            guard let repository = location.offline else { return try await mountThroughDaemon() }
            let repo = try await tenant.open(repository)
            var logger = Logger(label: "tandemctl.mount")
            logger.logLevel = .notice
            let mounted = try await MountedRepository.open(tenant: repo, cacheLimit: cacheMib << 20, logger: logger)
            let session: FuseSession
            do {
                session = try FuseSession(repository: mounted, at: mountPoint, name: "tandem:\(tenant.tenant)")
            } catch {
                await mounted.close()
                throw error
            }
            FileHandle.standardError.write(Data("mounted the snapshots of \(tenant.tenant) read-only at \(mountPoint)/snapshots\n".utf8))
            try await Self.runMounted(session, signals: await UnixSignalsSequence(trapping: .sigint, .sigterm))
            await mounted.close()
            FileHandle.standardError.write(Data("unmounted \(mountPoint)\n".utf8))
        }
    }

    /// Asks tandemd for the tenant's snapshots and mounts them here until a signal, `umount`,
    /// or tandemd ending the export.
    private func mountThroughDaemon() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let tenant = tenant.tenant
        let mountPoint = mountPoint
        let daemonClosed = try await location.daemon.client().postHolding(
            "/v1/tenants/\(tenant)/exports", body: ExportRequest(kind: .mount), as: ExportInfo.self) { export in
                let remote = try await RemoteFileSystem.connect(export.socket)
                let session = try FuseSession(repository: remote, at: mountPoint, name: "tandem:\(tenant)")
                FileHandle.standardError.write(Data("mounted the snapshots of \(tenant) read-only at \(mountPoint)/snapshots (read by tandemd, export \(export.id))\n".utf8))
                // tandemd closing the mount's socket (it is stopping) may come before it closes
                // the control connection: either way the command says so.
                if try await Self.runMounted(session, signals: signals, source: { _ = await remote.run() }) {
                    FileHandle.standardError.write(Data("unmounted \(mountPoint)\n".utf8))
                    throw DaemonCallError.ended("tandemd closed the connection (is it stopping?): the mount has ended")
                }
                FileHandle.standardError.write(Data("unmounted \(mountPoint)\n".utf8))
            }
        if daemonClosed { throw DaemonCallError.ended("tandemd closed the connection (is it stopping?): the mount has ended") }
    }

    /// Answers the kernel until the mount ends: a signal or `umount`, the end of `source` (the
    /// connection to tandemd: unmounted rather than left answering EIO), or cancellation.
    /// Unmounts once, whichever comes first; true when `source` ended it.
    @discardableResult
    static func runMounted(_ session: FuseSession, signals: UnixSignalsSequence,
                           source: (@Sendable () async -> Void)? = nil) async throws -> Bool {
        try await withTaskCancellationHandler {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await session.run()
                    return false
                }
                if let source {
                    group.addTask {
                        await source()
                        guard !Task.isCancelled else { return false }
                        session.unmount()
                        return true
                    }
                }
                group.addTask {
                    for await _ in signals {
                        session.unmount()
                        return false
                    }
                    return false
                }
                // The first to end unmounts; the others then end too. Which ended it is asked of
                // all of them, not of the first to return: the loop can return before the child
                // that unmounted it does.
                var bySource = try await group.next() ?? false
                group.cancelAll()
                while let next = try? await group.next() { bySource = bySource || next }
                return bySource
            }
        } onCancel: {
            session.unmount()
        }
    }
}
