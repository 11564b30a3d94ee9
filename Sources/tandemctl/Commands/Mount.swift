import ArgumentParser
import Foundation
import Logging
import TandemMount
import TandemStore
import UnixSignals

/// `tandemctl mount --repo DIR --tenant T MOUNTPOINT`: every snapshot of the tenant, read-only
/// through FUSE, files read chunk by chunk as they are read, until SIGINT, SIGTERM or `umount`.
struct Mount: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mount a tenant's snapshots read-only through FUSE (offline, --repo), reading chunks on demand.",
        discussion: """
            MOUNTPOINT/snapshots/<time>-<id> holds each snapshot (latest: a symlink to the newest): a tree with its modes,
            owners, nanosecond mtimes, symlinks, hard links and xattrs, or an image as one file named after its source.
            Every chunk is authenticated as a restore's is; a damaged one reads as EIO, never as wrong bytes.
            The mount point must be an empty directory. Unmounts on SIGINT or SIGTERM (or umount MOUNTPOINT);
            the tenant stays locked shared meanwhile, so no prune removes what is read. Needs /dev/fuse (Debian: fuse3).
            """)

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var tenant: TenantOptions
    @Argument(help: "An empty directory to mount at.") var mountPoint: String
    @Option(help: ArgumentHelp("Decoded chunks kept in memory, in MiB.", valueName: "MIB")) var cacheMib = 64

    func validate() throws {
        guard (1...65536).contains(cacheMib) else { throw ValidationError("--cache-mib must be 1...65536, not \(cacheMib)") }
    }

    func run() async throws {
        try await Failure.guarded {
            try MountPoint.check(mountPoint)
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
            let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await session.run() }
                group.addTask {
                    for await _ in signals {
                        session.unmount()
                        return
                    }
                }
                // The loop ends when unmounted, by a signal or by `umount`.
                try await group.next()
                group.cancelAll()
            }
            await mounted.close()
            FileHandle.standardError.write(Data("unmounted \(mountPoint)\n".utf8))
        }
    }
}
