import ArgumentParser
import Foundation
import Logging
import TandemCore
import TandemExport
import TandemStore
import UnixSignals

/// `tandemctl serve [--repo DIR --nbd ADDRESS] --tenant T SNAPSHOT`: serves an image snapshot
/// read-only over NBD until SIGINT or SIGTERM, reading chunks on demand, so a VM can boot from
/// it (through a qcow2 overlay) before anything is restored. Offline (`--repo`) this process
/// serves at `--nbd`; otherwise tandemd serves it, on a Unix socket only the caller may open,
/// for as long as this command runs.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve an image snapshot read-only over NBD, reading chunks on demand.",
        discussion: """
            Without --repo, tandemd serves it (operators, and a tenant's own uids for that tenant): the socket is made for
            the calling uid alone (and root: tandemd checks each connecting process's uid) and printed; the export ends
            when this command does, and both ends are audited.
            With --repo DIR, this process serves at --nbd unix:PATH or tcp:HOST:PORT.
            Writes belong in the client's own overlay: qemu-img create -f qcow2 -b 'nbd+unix:///?socket=PATH' -F raw overlay.qcow2
            Stops on SIGINT or SIGTERM; the tenant stays locked shared meanwhile, so no prune removes what is served.
            """)

    @OptionGroup var location: RepositoryChoice
    @OptionGroup var tenant: TenantOptions
    @Argument(help: "Snapshot ID, ID prefix or 'latest'.") var snapshot: String
    @Option(help: ArgumentHelp("With --repo: where to listen, unix:PATH or tcp:HOST:PORT (port 0: any free one).",
                               valueName: "ADDRESS"))
    var nbd: String?
    @Option(help: ArgumentHelp("With --repo: decoded chunks kept in memory, in MiB.", valueName: "MIB")) var cacheMib = 64
    @Flag(help: "Print the export as JSON once it is served (tandemd).") var json = false

    func validate() throws {
        if location.offline == nil {
            if nbd != nil { throw ValidationError("--nbd needs --repo DIR: tandemd picks the socket, one only the caller may open") }
            if tenant.keyFile != nil { throw ValidationError("--key-file needs --repo DIR: tandemd unlocks the tenant with its own key") }
            return
        }
        if json { throw ValidationError("--json is for exports tandemd serves; offline, the address is printed") }
        guard let nbd else { throw ValidationError("--repo needs --nbd unix:PATH or tcp:HOST:PORT: where to serve") }
        guard NBDAddress(nbd) != nil else { throw ValidationError("--nbd must be unix:PATH or tcp:HOST:PORT, not '\(nbd)'") }
        guard (1...65536).contains(cacheMib) else { throw ValidationError("--cache-mib must be 1...65536, not \(cacheMib)") }
    }

    func run() async throws {
        try await Failure.guarded {
            guard let repository = location.offline, let nbd, let address = NBDAddress(nbd) else {
                return try await serveThroughDaemon()
            }
            let repo = try await tenant.open(repository)
            let image = try await SnapshotImage.open(tenant: repo, reference: snapshot, cacheLimit: cacheMib << 20)
            let name = String(image.snapshotID.prefix(12))
            var logger = Logger(label: "tandemctl.serve")
            logger.logLevel = .notice
            let export = NBDServerMachine.Export(name: name, size: UInt64(image.size),
                                                 description: "tandem tenant \(tenant.tenant) snapshot \(image.snapshotID)")
            let server = NBDServer(image: image, export: export, logger: logger)
            let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await server.serve(at: address) { bound in
                        let line = "serving snapshot \(name) of \(tenant.tenant) (\(image.size) bytes) read-only at \(bound.uri())\n"
                        FileHandle.standardOutput.write(Data(line.utf8))
                    }
                }
                group.addTask {
                    for await _ in signals { return }
                }
                _ = try await group.next()
                group.cancelAll()
            }
            await image.close()
        }
    }

    /// Asks tandemd to serve the snapshot and holds the export until a signal (or until
    /// tandemd stops, which ends it).
    private func serveThroughDaemon() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let json = json
        let tenant = tenant.tenant
        let daemonClosed = try await location.daemon.client().postHolding(
            "/v1/tenants/\(tenant)/exports", body: ExportRequest(kind: .nbd, snapshot: snapshot), as: ExportInfo.self) { export in
                if json {
                    try JSONOutput.print(export)
                } else {
                    let line = "tandemd serves snapshot \(export.snapshotId?.prefix(12) ?? "?") of \(tenant) (\(export.size ?? 0) bytes) read-only at "
                        + "\(export.uri ?? export.socket) (export \(export.id), for uid \(export.ownerUid) alone; ends when this command does)\n"
                    FileHandle.standardOutput.write(Data(line.utf8))
                }
                for await _ in signals { return }
            }
        if daemonClosed { throw DaemonCallError.ended("tandemd closed the connection (is it stopping?): the export has ended") }
    }
}
