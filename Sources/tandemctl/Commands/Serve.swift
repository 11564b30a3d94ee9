import ArgumentParser
import Foundation
import Logging
import TandemCore
import TandemExport
import TandemStore
import UnixSignals

/// `tandemctl serve --repo DIR --tenant T SNAPSHOT --nbd unix:PATH|tcp:HOST:PORT`: serves an
/// image snapshot read-only over NBD until SIGINT or SIGTERM, reading chunks on demand, so a VM
/// can boot from it (through a qcow2 overlay) before anything is restored.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve an image snapshot read-only over NBD (offline, --repo), reading chunks on demand.",
        discussion: """
            Writes belong in the client's own overlay: qemu-img create -f qcow2 -b 'nbd+unix:///?socket=PATH' -F raw overlay.qcow2
            Stops on SIGINT or SIGTERM; the tenant stays locked shared meanwhile, so no prune removes what is served.
            """)

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var tenant: TenantOptions
    @Argument(help: "Snapshot ID, ID prefix or 'latest'.") var snapshot: String
    @Option(help: ArgumentHelp("Where to listen: unix:PATH or tcp:HOST:PORT (port 0: any free one).", valueName: "ADDRESS"))
    var nbd: String
    @Option(help: ArgumentHelp("Decoded chunks kept in memory, in MiB.", valueName: "MIB")) var cacheMib = 64

    func validate() throws {
        guard NBDAddress(nbd) != nil else { throw ValidationError("--nbd must be unix:PATH or tcp:HOST:PORT, not '\(nbd)'") }
        guard (1...65536).contains(cacheMib) else { throw ValidationError("--cache-mib must be 1...65536, not \(cacheMib)") }
    }

    func run() async throws {
        try await Failure.guarded {
            let address = NBDAddress(nbd)!
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
}
