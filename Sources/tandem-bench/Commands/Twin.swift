import ArgumentParser
import Foundation

/// `tandem-bench twin --data DIR`: the same `tandemd` backup of image-v1, alone and with a twin
/// mirroring it over loopback TLS (`twin: required`: the job ends only once the twin holds the
/// snapshot), interleaved round by round.
struct Twin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Backup throughput of tandemd with a twin mirroring over loopback TLS, against the same backup without a twin.",
        discussion: """
            Each round starts fresh sites: one tandemd alone, and two tandemd as twins (home-a active, \
            home-b its twin, certificates from `tandemctl certs init`), in alternating order, and runs \
            `tandemctl backup now` of image-v1 at each, deleting the repositories after each run. The time is the job's own (started to finished, as the daemon reports \
            it); with the twin it includes streaming every pack to the twin and the twin's fsyncs. Both \
            daemons share this machine's cores, as the two sites would not; with `--placement split` \
            each site gets its own half of the cores (taskset), the daemon alone and the home site the \
            same half, as two machines would have: then the ratio is what mirroring costs the home \
            site itself.
            """)

    /// Where the daemons run.
    enum Placement: String, ExpressibleByArgument, CaseIterable, Encodable {
        /// All on every core: the twin's work competes with the home site's.
        case shared
        /// The home site (and the daemon alone) on the first half of the cores, the twin on the rest.
        case split
    }

    @Option(help: "Dataset directory (gen_dataset.py output).") var data: String
    @Option(help: "Rounds; the median of each is reported.") var rounds: Int = 3
    @Option(help: "Working directory (default: DATA/../tandem-bench-work).") var work: String?
    @Option(help: "tandemctl binary (default: next to this executable; tandemd must be beside it).") var tandemctl: String?
    @Flag(help: "Print one JSON document instead of a table.") var json = false
    @Flag(help: "Keep the sites' repositories and logs (each run's replace the last).") var keep = false
    @Option(help: "shared: every daemon on every core; split: the home site (and the daemon alone) on the first half of the cores, the twin on the other half.")
    var placement: Placement = .shared

    struct Output: Encodable {
        let machine: Machine
        let placement: Placement
        /// CPU lists (taskset) of the home site and the twin, with `split`.
        let homeCPUs: String?
        let twinCPUs: String?
        let imageBytes: Int64
        let aloneSeconds: [Double]
        let twinSeconds: [Double]
        let aloneMBps: Double
        let twinMBps: Double
        let ratio: Double
        /// CPU seconds of the home and the twin daemon in each round with the twin.
        let aloneCPUSeconds: [Double]
        let homeCPUSeconds: [Double]
        let twinCPUSeconds: [Double]
        /// Peak resident set of the daemon alone, and of the home and twin daemons, per round.
        let alonePeakRSS: [Int64]
        let homePeakRSS: [Int64]
        let twinPeakRSS: [Int64]
    }

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        if placement == .split && ProcessInfo.processInfo.activeProcessorCount < 2 {
            throw ValidationError("--placement split needs at least 2 cores")
        }
    }

    func run() async throws {
        let machine = Machine.current()
        let dataset = try Dataset(directory: data)
        let workPath = work ?? URL(fileURLWithPath: dataset.directory).deletingLastPathComponent().appendingPathComponent("tandem-bench-work").path
        let root = workPath + "/twin"
        let tandemctl = try TandemTool.locate(override: self.tandemctl)
        let tandemd = URL(fileURLWithPath: tandemctl).deletingLastPathComponent().appendingPathComponent("tandemd").path
        guard access(tandemd, X_OK) == 0 else { throw BenchError("tandemd not found beside \(tandemctl)") }
        let cpus = placement == .split ? TwinLab.splitCPUs(ProcessInfo.processInfo.activeProcessorCount) : nil
        var alone: [Double] = []
        var twinned: [Double] = []
        var cpu: [(home: Double, twin: Double)] = []
        var aloneCPU: [Double] = []
        var rss: (alone: [Int64], home: [Int64], twin: [Int64]) = ([], [], [])
        for round in 1...rounds {
            Log.info("twin round \(round)/\(rounds)")
            try Files.remove(root)
            try Files.makeDirectory(root + "/logs")
            var lab = try TwinLab(root: root, tandemctl: tandemctl, tandemd: tandemd, image: dataset.imageV1)
            lab.cpus = cpus
            // Alternate which goes first; each starts with no repository left by the other.
            for twin in round % 2 == 1 ? [false, true] : [true, false] {
                Files.warm(dataset.imageV1)
                let timing = try lab.timedBackup(twin: twin)
                if twin {
                    twinned.append(timing.seconds)
                    cpu.append((timing.homeCPU, timing.twinCPU ?? 0))
                    rss.home.append(timing.homePeakRSS)
                    rss.twin.append(timing.twinPeakRSS ?? 0)
                } else {
                    alone.append(timing.seconds)
                    aloneCPU.append(timing.homeCPU)
                    rss.alone.append(timing.homePeakRSS)
                }
                if !keep { try lab.removeRepositories() }
            }
        }
        if !keep { try Files.remove(root) }
        let median = { (values: [Double]) in values.sorted()[values.count / 2] }
        let aloneMBps = Units.megabytesPerSecond(dataset.imageV1Bytes, median(alone))
        let twinMBps = Units.megabytesPerSecond(dataset.imageV1Bytes, median(twinned))
        let output = Output(machine: machine, placement: placement, homeCPUs: cpus?.home, twinCPUs: cpus?.twin, imageBytes: dataset.imageV1Bytes, aloneSeconds: alone, twinSeconds: twinned,
                            aloneMBps: aloneMBps, twinMBps: twinMBps, ratio: twinMBps / aloneMBps,
                            aloneCPUSeconds: aloneCPU, homeCPUSeconds: cpu.map(\.home), twinCPUSeconds: cpu.map(\.twin),
                            alonePeakRSS: rss.alone, homePeakRSS: rss.home, twinPeakRSS: rss.twin)
        if json {
            try JSONOutput.print(output)
            return
        }
        print("machine: \(machine.summary)")
        if let cpus { print("placement: split; home site and the daemon alone on CPUs \(cpus.home), the twin on CPUs \(cpus.twin)") }
        var table = Table(["tandemd backup of image-v1", "seconds (median)", "MB/s", "rounds"], leftAligned: [0])
        table.add(["alone", Units.fixed(median(alone), 2), Units.fixed(aloneMBps, 1), alone.map { Units.fixed($0, 2) }.joined(separator: " ")])
        table.add(["with the twin mirroring (loopback TLS)", Units.fixed(median(twinned), 2), Units.fixed(twinMBps, 1),
                   twinned.map { Units.fixed($0, 2) }.joined(separator: " ")])
        print(table.text())
        print("with twin / alone: \(Units.fixed(output.ratio, 2))")
        let list = { (values: [Double]) in values.map { Units.fixed($0, 1) }.joined(separator: " ") }
        let mib = { (values: [Int64]) in values.map { Units.fixed(Double($0) / 1_048_576, 0) }.joined(separator: " ") }
        print("CPU seconds per round: alone \(list(aloneCPU)); with the twin, home \(list(cpu.map(\.home))) and twin \(list(cpu.map(\.twin)))")
        print("peak RSS MiB per round: alone \(mib(rss.alone)); with the twin, home \(mib(rss.home)) and twin \(mib(rss.twin))")
    }
}

/// Fresh sites for one round: their configs, keys and certificates under `root`.
struct TwinLab {
    let root: String
    let tandemctl: String
    let tandemd: String
    let image: String
    /// CPU lists for taskset: the home site's (also the daemon alone's) and the twin's.
    var cpus: (home: String, twin: String)?

    /// The first half of `count` cores and the rest, as taskset lists.
    static func splitCPUs(_ count: Int) -> (home: String, twin: String) {
        let half = max(1, count / 2)
        let list = { (range: Range<Int>) in range.count == 1 ? "\(range.lowerBound)" : "\(range.lowerBound)-\(range.upperBound - 1)" }
        return (list(0..<half), list(half..<count))
    }

    init(root: String, tandemctl: String, tandemd: String, image: String) throws {
        self.root = root
        self.tandemctl = tandemctl
        self.tandemd = tandemd
        self.image = image
        _ = try ChildProcess.checked([tandemctl, "certs", "init", "--dir", root + "/certs", "--site", "home-a", "--site", "home-b"],
                                     scratch: root + "/logs")
        var generator = SystemRandomNumberGenerator()
        let key = Data((0..<48).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try key.write(to: URL(fileURLWithPath: root + "/bench.key"))
    }

    /// Deletes every site's repository and state, so the next run starts as fresh and the
    /// memory they held is free again.
    func removeRepositories() throws {
        for site in ["home-a", "home-b", "home-a-alone"] { try Files.remove(root + "/" + site) }
    }

    /// Writes a site's config and policy; returns its config path.
    func site(_ name: String, twin: (name: String, port: Int, listen: Int)?) throws -> String {
        let dir = root + "/" + name + (twin == nil ? "-alone" : "")
        try Files.makeDirectory(dir + "/tenants.d")
        var config = """
            site: \(name)
            role: near
            repository: {path: \(dir)/repository}
            state_directory: \(dir)/state
            control: {socket: \(dir)/control.sock}
            metrics: {listen: "127.0.0.1:0"}
            log_level: notice

            """
        var policy = """
            tenant: bench
            key: {key_file: \(root)/bench.key}
            sources:
              - {name: image, image: \(image)}

            """
        if let twin {
            config += """
                listen: 127.0.0.1:\(twin.listen)
                tls: {ca: \(root)/certs/ca.pem, certificate: \(root)/certs/\(name).pem, key: \(root)/certs/\(name).key}
                peers:
                  - {name: \(twin.name), role: twin, address: 127.0.0.1:\(twin.port)}

                """
            policy += "home_site: home-a\ntwin: required\n"
        }
        try config.write(toFile: dir + "/tandem.yaml", atomically: true, encoding: .utf8)
        try policy.write(toFile: dir + "/tenants.d/bench.yaml", atomically: true, encoding: .utf8)
        return dir + "/tandem.yaml"
    }

    /// One backup's figures: the job's seconds, and the CPU seconds each daemon used from its
    /// start to the job's end.
    struct Timing {
        let seconds: Double
        let homeCPU: Double
        let twinCPU: Double?
        let homePeakRSS: Int64
        let twinPeakRSS: Int64?
    }

    /// A running process's peak resident set (VmHWM), in bytes, from /proc.
    static func peakRSS(_ pid: Int32) -> Int64 {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kib = Int64(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return 0 }
        return kib * 1024
    }

    /// CPU seconds (user + system) a running process has used, from /proc.
    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command name: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Starts the site(s), runs one `backup now` at home-a, returns its figures.
    func timedBackup(twin: Bool) throws -> Timing {
        var daemons: [Process] = []
        defer {
            for daemon in daemons where daemon.isRunning { daemon.terminate() }
            for daemon in daemons { daemon.waitUntilExit() }
        }
        let home: String
        if twin {
            let portA = try freePort(), portB = try freePort()
            let twinConfig = try site("home-b", twin: ("home-a", portA, portB))
            home = try site("home-a", twin: ("home-b", portB, portA))
            daemons.append(try start(twinConfig, cpus: cpus?.twin))
        } else {
            home = try site("home-a", twin: nil)
        }
        daemons.append(try start(home, cpus: cpus?.home))
        let socket = (home as NSString).deletingLastPathComponent + "/control.sock"
        if twin {
            // Wait until home-a sees the twin, so the first pack is not sent into a closed link.
            try waitFor("the twin link", seconds: 30) {
                let status = try ChildProcess.checked([tandemctl, "status", "--json"], environment: ["TANDEM_SOCKET": socket],
                                                      scratch: root + "/logs")
                let document = try JSONSerialization.jsonObject(with: status.stdout) as? [String: Any]
                return (document?["tenants"] as? [[String: Any]])?.first?["twin_state"] as? String == "in_sync"
            }
        }
        let child = try ChildProcess.checked([tandemctl, "backup", "now", "--tenant", "bench", "--json"],
                                             environment: ["TANDEM_SOCKET": socket], scratch: root + "/logs")
        guard let document = try JSONSerialization.jsonObject(with: child.stdout) as? [String: Any],
              let job = (document["jobs"] as? [[String: Any]])?.first, job["state"] as? String == "succeeded"
        else { throw BenchError("backup now did not succeed: \(String(decoding: child.stdout, as: UTF8.self))") }
        // The daemon logs the job's own duration (to the twin's acknowledgement) to 10 ms.
        let log = (try? String(contentsOfFile: (home as NSString).deletingLastPathComponent + "/tandemd.log", encoding: .utf8)) ?? ""
        guard let line = log.split(separator: "\n").last(where: { $0.contains("backup committed") }),
              let range = line.range(of: #"seconds=([0-9.]+)"#, options: .regularExpression),
              let seconds = Double(line[range].dropFirst("seconds=".count)) else {
            throw BenchError("no 'backup committed' line with seconds in the log of \(home)")
        }
        let homeCPU = Self.cpuSeconds(daemons.last!.processIdentifier)
        return Timing(seconds: seconds, homeCPU: homeCPU, twinCPU: twin ? Self.cpuSeconds(daemons[0].processIdentifier) : nil,
                      homePeakRSS: Self.peakRSS(daemons.last!.processIdentifier),
                      twinPeakRSS: twin ? Self.peakRSS(daemons[0].processIdentifier) : nil)
    }

    private func start(_ config: String, cpus: String?) throws -> Process {
        let process = Process()
        if let cpus {
            // taskset execs tandemd in its own process, so the pid's /proc figures are the daemon's.
            process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
            process.arguments = ["-c", cpus, tandemd, "--config", config]
        } else {
            process.executableURL = URL(fileURLWithPath: tandemd)
            process.arguments = ["--config", config]
        }
        let log = (config as NSString).deletingLastPathComponent + "/tandemd.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: log)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let socket = (config as NSString).deletingLastPathComponent + "/control.sock"
        try waitFor("tandemd at \(config)", seconds: 30) { FileManager.default.fileExists(atPath: socket) || !process.isRunning }
        guard process.isRunning else { throw BenchError("tandemd exited at start; see \(log)") }
        return process
    }

    private func waitFor(_ what: String, seconds: Double, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? condition()) == true { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw BenchError("timed out waiting for \(what)")
    }

    private func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw BenchError("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
