import ArgumentParser
import Foundation
import TandemSiteLab
import TandemSites
import TandemStore

/// `tandem-bench ship --data DIR`: the home site's backup throughput for new data against its
/// shipping throughput to a remote site over loopback TLS, side by side in one run, and the
/// remote RPO for image-v2 after image-v1 under a WAN profile (5 ms RTT, 100 Mbit/s).
struct Ship: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Shipping to a remote site: throughput over loopback TLS versus backup, and RPO under a WAN profile.",
        discussion: """
            Per round: `tandemctl backup` of image-v1 into a fresh repository (all data new); the \
            snapshot shipped to a remote site in this process (the same link server and receiver \
            tandemd runs, storing into a local repository with fsync) over loopback TLS; then a \
            second remote fed image-v1 directly, `tandemctl backup` of image-v2, and image-v2 shipped \
            through a proxy imposing the WAN profile. Shipping needs no key: it reads packs as stored.
            """)

    @Option(help: "Dataset directory (gen_dataset.py output).") var data: String
    @Option(help: "Rounds; the median round by shipping time is reported.") var rounds: Int = 1
    @Option(help: "Working directory (default: DATA/../tandem-bench-work).") var work: String?
    @Option(help: "tandemctl binary (default: next to this executable).") var tandemctl: String?
    @Option(help: "WAN round-trip time in milliseconds.") var rttMs: Double = 5
    @Option(help: "WAN rate in Mbit/s.") var mbits: Double = 100
    @Flag(help: "Print one JSON document instead of a table.") var json = false

    /// One round's figures.
    struct Round: Encodable {
        let imageBytes: Int64
        let backupSeconds: Double
        let packBytes: Int64
        let shipSeconds: Double
        let backupMBps: Double
        let shipSourceMBps: Double
        let shipWireMBps: Double
        let shipToBackupRatio: Double
        let wanProfile: String
        let image2NewPackBytes: Int64
        let image2WireBytes: Int64
        let image2WireRatio: Double
        let image2BackupSeconds: Double
        let image2ShipSeconds: Double
    }

    struct Output: Encodable {
        let machine: Machine
        let rounds: [Round]
        let reported: Round
    }

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        guard rttMs >= 0, mbits > 0 else { throw ValidationError("--rtt-ms must be >= 0 and --mbits > 0") }
    }

    func run() async throws {
        let machine = Machine.current()
        let dataset = try Dataset(directory: data)
        let workPath = work ?? URL(fileURLWithPath: dataset.directory).deletingLastPathComponent().appendingPathComponent("tandem-bench-work").path
        let root = workPath + "/ship"
        try Files.makeDirectory(workPath)
        let tandemctl = try TandemTool.locate(override: self.tandemctl)
        let profile = WANProxy.Profile(oneWayDelay: .microseconds(Int64(rttMs * 500)), bytesPerSecond: Int(mbits * 1e6 / 8))
        var results: [Round] = []
        for round in 1...rounds {
            try Files.remove(root)
            try Files.makeDirectory(root + "/logs")
            Log.info("ship round \(round)/\(rounds)")
            results.append(try await measure(dataset, root: root, tandemctl: tandemctl, profile: profile))
        }
        try Files.remove(root)
        let reported = results.sorted { $0.shipSeconds < $1.shipSeconds }[results.count / 2]
        if json {
            try JSONOutput.print(Output(machine: machine, rounds: results, reported: reported))
            return
        }
        print("machine: \(machine.summary)")
        var table = Table(["step", "bytes", "seconds", "MB/s", "note"], leftAligned: [0, 4])
        table.add(["backup image-v1 (all new)", "\(reported.imageBytes)", Units.fixed(reported.backupSeconds, 2),
                   Units.fixed(reported.backupMBps, 1), "tandemctl backup, source bytes"])
        table.add(["ship image-v1 (loopback TLS)", "\(reported.packBytes)", Units.fixed(reported.shipSeconds, 2),
                   Units.fixed(reported.shipWireMBps, 1), "pack bytes; \(Units.fixed(reported.shipSourceMBps, 1)) MB/s of source"])
        table.add(["ship / backup", "", "", Units.fixed(reported.shipToBackupRatio, 2), "source bytes made safe at the remote per second"])
        table.add(["backup image-v2", "", Units.fixed(reported.image2BackupSeconds, 2), "", ""])
        table.add(["ship image-v2 (WAN)", "\(reported.image2WireBytes)", Units.fixed(reported.image2ShipSeconds, 2), "",
                   "\(reported.wanProfile); new packs \(reported.image2NewPackBytes) B, wire/new \(Units.fixed(reported.image2WireRatio, 3))"])
        print(table.text())
        print("remote RPO after the image-v2 backup commits (WAN): \(Units.fixed(reported.image2ShipSeconds, 2)) s until complete at the remote")
    }

    private func measure(_ dataset: Dataset, root: String, tandemctl: String, profile: WANProxy.Profile) async throws -> Round {
        let logs = root + "/logs"
        let certificates = root + "/certs"
        _ = try ChildProcess.checked([tandemctl, "certs", "init", "--dir", certificates, "--site", LoopbackRemote.nearSite,
                                      "--site", LoopbackRemote.remoteSite], scratch: logs)
        let near = root + "/near"
        let environment = ["TANDEM_PASSPHRASE": "tandem-bench-passphrase"]
        _ = try ChildProcess.checked([tandemctl, "init", "--repo", near], environment: environment, scratch: logs)
        _ = try ChildProcess.checked([tandemctl, "tenant", "create", "--repo", near, "--tenant", "bench"], environment: environment, scratch: logs)
        let indexPath: @Sendable (String) -> String = { "\(near)/\(TenantLayout($0).index)" }

        Files.warm(dataset.imageV1)
        let first = try ChildProcess.checked([tandemctl, "backup", "--repo", near, "--tenant", "bench", dataset.imageV1, "--json"],
                                             environment: environment, scratch: logs)
        let packBytes = Files.apparentSize(near + "/" + TenantLayout("bench").packs)

        // Shipping over loopback TLS, straight to the receiver.
        let remote = try await LoopbackRemote.start(backend: LocalBackend(root: root + "/remote-1"), certificates: certificates)
        let shipper = try await remote.shipper(backend: LocalBackend(root: near), stateDirectory: root + "/state-1", indexPath: indexPath)
        let shipStart = Monotonic.now()
        let shipped = await shipper.shipAll(tenants: ["bench"], now: { Date() })
        let shipSeconds = Monotonic.now() - shipStart
        await remote.stop()
        guard shipped == 1 else { throw BenchError("shipping image-v1 failed: \(await shipper.queue("bench").lastError ?? "?")") }

        // The WAN round: a remote that already holds image-v1, then image-v2 through the proxy.
        let wan = try await LoopbackRemote.start(backend: LocalBackend(root: root + "/remote-2"), certificates: certificates, profile: profile)
        let seed = try await wan.shipper(backend: LocalBackend(root: near), stateDirectory: root + "/state-2", indexPath: indexPath, direct: true)
        guard await seed.shipAll(tenants: ["bench"], now: { Date() }) == 1 else { throw BenchError("seeding the WAN remote failed") }
        let before = Set(Files.regularFiles(under: near + "/" + TenantLayout("bench").packs).map(\.path))
        Files.warm(dataset.imageV2)
        let second = try ChildProcess.checked([tandemctl, "backup", "--repo", near, "--tenant", "bench", dataset.imageV2, "--json"],
                                              environment: environment, scratch: logs)
        let newPackBytes = Files.regularFiles(under: near + "/" + TenantLayout("bench").packs).filter { !before.contains($0.path) }.reduce(0) { $0 + $1.size }
        let overWAN = try await wan.shipper(backend: LocalBackend(root: near), stateDirectory: root + "/state-2", indexPath: indexPath)
        let wireBefore = await wan.proxy!.counters().upstreamBytes
        let wanStart = Monotonic.now()
        let wanShipped = await overWAN.shipAll(tenants: ["bench"], now: { Date() })
        let wanSeconds = Monotonic.now() - wanStart
        let wire = await wan.proxy!.counters().upstreamBytes - wireBefore
        await wan.stop()
        guard wanShipped == 1 else { throw BenchError("shipping image-v2 over the WAN failed: \(await overWAN.queue("bench").lastError ?? "?")") }

        let backupMBps = Units.megabytesPerSecond(dataset.imageV1Bytes, first.wallSeconds)
        let shipSourceMBps = Units.megabytesPerSecond(dataset.imageV1Bytes, shipSeconds)
        return Round(imageBytes: dataset.imageV1Bytes, backupSeconds: first.wallSeconds, packBytes: packBytes, shipSeconds: shipSeconds,
                     backupMBps: backupMBps, shipSourceMBps: shipSourceMBps,
                     shipWireMBps: Units.megabytesPerSecond(packBytes, shipSeconds), shipToBackupRatio: shipSourceMBps / backupMBps,
                     wanProfile: "\(profile)", image2NewPackBytes: newPackBytes, image2WireBytes: wire,
                     image2WireRatio: Double(wire) / Double(max(1, newPackBytes)), image2BackupSeconds: second.wallSeconds,
                     image2ShipSeconds: wanSeconds)
    }
}
