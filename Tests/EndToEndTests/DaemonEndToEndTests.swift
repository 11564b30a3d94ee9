import Foundation
import Testing
import TandemTestSupport

/// Real `tandemd` processes on loopback and a Unix socket, driven by the real `tandemctl`.
@Suite(.serialized) struct DaemonEndToEndTests {
    static let basicPolicy = """
    tenant: alpha
    access: {uids: [4242]}
    key: {key_file: $KEY}
    sources:
      - name: docs
        directory: $ROOT/data/docs
    schedules:
      - name: fast
        every: 2s
        sources: [docs]
    retention: {keep_last: 3}
    """

    static let betaPolicy = """
    tenant: beta
    access: {uids: [5353]}
    key: {key_file: $KEY}
    sources:
      - {name: docs, directory: $ROOT/data/docs}
    """

    static let files: [String: Data] = [
        "docs/a.txt": Data("alpha document\n".utf8),
        "docs/sub/b.bin": sampleBytes(300_000, seed: 5),
        "docs/sub/deeper/c.txt": Data(String(repeating: "c", count: 10_000).utf8),
    ]

    func snapshots(_ daemon: DaemonProcess, tenant: String = "alpha") throws -> [[String: Any]] {
        try daemon.cli().jsonArray(["snapshots", "--tenant", tenant])
    }

    /// The scheduler fires an interval of seconds on its own, retention keeps three, and the
    /// result restores byte for byte, both through the daemon and offline.
    @Test func aScheduleFiresAndItsSnapshotRestores() throws {
        let daemon = try DaemonProcess(policies: ["alpha": Self.basicPolicy], files: Self.files)
        try daemon.start()
        try daemon.wait("five scheduled runs") { daemon.log.components(separatedBy: "backup committed").count > 5 }
        let listed = try snapshots(daemon)
        #expect(listed.count == 3, "retention keep_last 3 after 5 runs: \(listed.count)")
        let target = daemon.root + "/restored"
        let restore = try daemon.cli().run(["restore", "--tenant", "alpha", "latest", "--target", target])
        #expect(restore.status == 0, "\(restore.stderr)")
        for (name, bytes) in Self.files {
            expectSameBytes(FileManager.default.contents(atPath: target + "/" + name.dropFirst("docs/".count)), bytes)
        }
        let status = try daemon.cli().json(["status"])
        #expect(status["site"] as? String == "e2e")
        let tenant = (status["tenants"] as? [[String: Any]])?.first
        #expect(tenant?["name"] as? String == "alpha")
        #expect((tenant?["last_backup"] as? [String: Any])?["result"] as? String == "success")
        #expect(tenant?["next_run"] is String && tenant?["quota_used_bytes"] is Int)
        #expect(try daemon.stop() == 0)
        // Offline, with the key file, the repository is just as good.
        let offline = try CLIRunner(repo: daemon.repository).run(["check", "--repo", daemon.repository, "--tenant", "alpha",
                                                                   "--key-file", daemon.keyFile, "--read-data"])
        #expect(offline.status == 0, "\(offline.stdout) \(offline.stderr)")
        // Outside journald (no JOURNAL_STREAM), every line carries its time and level.
        let stopped = daemon.log.split(separator: "\n").first { $0.contains("tandemd stopped") }.map(String.init) ?? ""
        #expect(stopped.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z notice tandemd stopped"#, options: .regularExpression) != nil,
                "\(stopped)")
    }

    /// `--socket` works before the subcommand as after it (and overrides TANDEM_SOCKET there
    /// too); a path that is a directory or a plain file is named as such, not "connection refused".
    @Test func theSocketOptionGoesBeforeOrAfterTheSubcommand() throws {
        let daemon = try DaemonProcess(policies: ["alpha": Self.basicPolicy], files: Self.files)
        try daemon.start()
        defer { _ = try? daemon.stop() }
        var runner = daemon.cli()
        runner.environment["TANDEM_SOCKET"] = daemon.root + "/nowhere.sock"
        for arguments in [["--socket", daemon.socket, "status", "--json"], ["--socket=\(daemon.socket)", "status", "--json"],
                          ["status", "--socket", daemon.socket, "--json"], ["--socket", daemon.socket, "backup", "now", "--tenant", "alpha"]] {
            let outcome = try runner.run(arguments)
            #expect(outcome.status == 0, "\(arguments): \(outcome.stderr)")
        }
        let unreachable = try runner.run(["status"])
        #expect(unreachable.status == 10 && unreachable.stderr.contains("nowhere.sock"), "\(unreachable.stderr)")
        let directory = try runner.run(["--socket", daemon.root, "status"])
        #expect(directory.status == 10 && directory.stderr.contains("is a directory, not tandemd's control socket"), "\(directory.stderr)")
        let file = try runner.run(["status", "--socket", daemon.configPath])
        #expect(file.status == 10 && file.stderr.contains("is not a socket"), "\(file.stderr)")
        let help = try runner.run(["--help"])
        #expect(help.stdout.contains("repair, drill, failover and failback talk to tandemd"), "\(help.stdout)")
    }

    /// SIGHUP with a valid config adds a tenant; with an invalid one it is refused, logged,
    /// and the running configuration kept.
    @Test func sighupReloadsAValidConfigAndRefusesAnInvalidOne() throws {
        let daemon = try DaemonProcess(policies: ["beta": Self.betaPolicy], files: Self.files)
        try daemon.start()
        try daemon.writePolicy("alpha", Self.basicPolicy.replacingOccurrences(of: "every: 2s", with: "every: 1h"))
        daemon.signal(SIGHUP)
        try daemon.wait("reload") { daemon.log.contains("configuration reloaded") }
        var tenants = (try daemon.cli().json(["status"])["tenants"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(tenants == ["alpha", "beta"])
        try daemon.writePolicy("gamma", "tenant: gamma\nkey: {key_file: /k}\nsources:\n  - {name: x, directory: /srv}\nschedules:\n  - {name: s, cron: \"61 * * * *\", sources: [x]}\n")
        daemon.signal(SIGHUP)
        try daemon.wait("refused reload") { daemon.log.contains("configuration reload refused") }
        #expect(daemon.log.contains("gamma.yaml:6:"))
        #expect(daemon.log.contains("minute field '61' is out of range 0-59"))
        tenants = (try daemon.cli().json(["status"])["tenants"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(tenants == ["alpha", "beta"])
        // Work goes on under the kept configuration.
        let backup = try daemon.cli().run(["backup", "now", "--tenant", "beta"])
        #expect(backup.status == 0, "\(backup.stdout) \(backup.stderr)")
        let reload = try daemon.cli().run(["reload"])
        #expect(reload.status == 2 && reload.stderr.contains("minute field '61'"))
        let audit = try daemon.cli().run(["audit", "verify"])
        #expect(audit.status == 0, "\(audit.stdout)")
        let records = try daemon.cli().json(["audit", "list", "--limit", "3"])["records"] as? [[String: Any]]
        #expect(records?.count == 3 && records?.last?["action"] as? String == "reload", "\(records ?? [])")
        #expect(try daemon.stop() == 0)
    }

    /// SIGTERM while a backup streams: the daemon stops promptly and cleanly, the command is
    /// killed, and no partial snapshot exists.
    @Test func sigtermDuringABackupLeavesNoPartialSnapshot() throws {
        let pidFile = "$ROOT/dump.pid"
        let daemon = try DaemonProcess(policies: ["alpha": """
        tenant: alpha
        key: {key_file: $KEY}
        sources:
          - name: dump
            command: "echo $$ > \(pidFile); head -c 30000000 /dev/urandom; sleep 60; echo never"
            timeout: 5m
        """])
        try daemon.start()
        let queued = try daemon.cli().run(["backup", "now", "--tenant", "alpha", "--no-wait"])
        #expect(queued.status == 0, "\(queued.stderr)")
        try daemon.wait("the dump to be streaming") {
            let jobs = try daemon.cli().json(["status"])["jobs"] as? [[String: Any]] ?? []
            return jobs.contains { ($0["bytes_done"] as? Int ?? 0) >= 30_000_000 }
        }
        let began = Date()
        #expect(try daemon.stop() == 0)
        #expect(Date().timeIntervalSince(began) < 20)
        #expect(daemon.log.contains("backup cancelled; no snapshot was written"))
        let pid = Int32((try String(contentsOfFile: pidFile.replacingOccurrences(of: "$ROOT", with: daemon.root), encoding: .utf8))
            .trimmingCharacters(in: .whitespacesAndNewlines))!
        let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.split(separator: ")").last?.split(separator: " ").first
        #expect(state == nil || state == "Z", "the dump command outlived the daemon")
        let offline = CLIRunner(repo: daemon.repository)
        let listed = try offline.jsonArray(["snapshots", "--repo", daemon.repository, "--tenant", "alpha", "--key-file", daemon.keyFile])
        #expect(listed.isEmpty)
        let check = try offline.run(["check", "--repo", daemon.repository, "--tenant", "alpha", "--key-file", daemon.keyFile, "--read-data"])
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
    }

    /// The control socket decides by the peer's uid: a tenant user sees its own tenant and is
    /// refused another's; an unknown uid is refused everything.
    @Test(.enabled(if: getuid() == 0, "needs root to act as other uids"))
    func theControlSocketRefusesATenantUidReachingAnotherTenant() throws {
        let daemon = try DaemonProcess(policies: ["alpha": Self.basicPolicy.replacingOccurrences(of: "every: 2s", with: "every: 1h"),
                                                  "beta": Self.betaPolicy], files: Self.files)
        try daemon.start()
        try daemon.wait("first backup") { daemon.log.contains("backup committed") }
        let alphaUser = daemon.cli(uid: 4242)
        let own = try alphaUser.run(["snapshots", "--tenant", "alpha", "--json"])
        #expect(own.status == 0, "\(own.stderr)")
        let other = try alphaUser.run(["snapshots", "--tenant", "beta"])
        #expect(other.status == 11 && other.stderr.contains("may not act on tenant beta"), "\(other.status) \(other.stderr)")
        let otherBackup = try alphaUser.run(["backup", "now", "--tenant", "beta"])
        #expect(otherBackup.status == 11)
        let status = try alphaUser.json(["status"])
        #expect((status["tenants"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["alpha"])
        let stranger = try daemon.cli(uid: 31337).run(["status"])
        #expect(stranger.status == 11 && stranger.stderr.contains("neither an operator nor mapped to a tenant"))
        let audit = try daemon.cli(uid: 4242).run(["audit"])
        #expect(audit.status == 11)
        // curl works too, and a bad body gets a clear answer without affecting anything.
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        let out = Pipe()
        curl.standardOutput = out
        curl.arguments = ["-s", "--unix-socket", daemon.socket, "-X", "POST", "-d", "{oops", "http://tandemd/v1/tenants/alpha/backup"]
        try curl.run()
        curl.waitUntilExit()
        let answer = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(answer.contains("\"error\" : \"bad_request\""), "\(answer)")
        #expect(try daemon.stop() == 0)
    }

    /// The metrics page is valid Prometheus text format (promtool, from Debian's prometheus
    /// package, checks it) and carries the per-tenant and process series.
    @Test func theMetricsPageIsValidPrometheusText() throws {
        let daemon = try DaemonProcess(policies: ["alpha": Self.basicPolicy], files: Self.files)
        try daemon.start()
        try daemon.wait("a backup") { daemon.log.contains("backup committed") }
        let text = try daemon.metricsPage()
        for series in ["tandem_last_success_timestamp_seconds{tenant=\"alpha\"}", "tandem_last_backup_duration_seconds{tenant=\"alpha\"}",
                       "tandem_stored_bytes{tenant=\"alpha\"}", "tandem_dedup_ratio{tenant=\"alpha\"}",
                       "tandem_backup_failures_total{tenant=\"alpha\"}", "tandem_process_resident_memory_bytes",
                       "tandem_job_queue_depth"] {
            #expect(text.contains(series), "missing \(series)")
        }
        // Replication and failover series exist from start-up, at their resting values.
        for (series, value) in [("tandem_tenant_active", 1.0), ("tandem_tenant_epoch", 0), ("tandem_lease_remaining_seconds", 0),
                                ("tandem_takeovers_total", 0), ("tandem_switchovers_total", 0), ("tandem_forced_promotions_total", 0),
                                ("tandem_fenced_total", 0), ("tandem_twin_stale_writes_refused_total", 0), ("tandem_remote_rpo_exceeded", 0)] {
            #expect(try daemon.metric(series, "tenant", "alpha") == value, "\(series)")
        }
        #expect(try daemon.metricsLint() == "", "promtool check metrics")
        #expect(try daemon.stop() == 0)
    }

    /// systemd's notify protocol: READY=1 once serving, WATCHDOG=1 at half of WATCHDOG_USEC,
    /// RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 at SIGTERM.
    @Test func tandemdSpeaksSystemdNotify() throws {
        let daemon = try DaemonProcess(policies: ["beta": Self.betaPolicy], files: Self.files)
        let listener = try NotifyListener(path: daemon.root + "/notify.sock")
        try daemon.start(environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "400000"])
        let first = listener.receive(for: 1.0)
        #expect(first.first?.hasPrefix("READY=1\nSTATUS=site e2e: 1 tenants") == true, "\(first)")
        #expect(first.filter { $0 == "WATCHDOG=1" }.count >= 2, "\(first)")
        daemon.signal(SIGHUP)
        let reload = listener.receive(for: 0.5).filter { $0 != "WATCHDOG=1" }
        #expect(reload.count == 2 && reload[0].hasPrefix("RELOADING=1\nMONOTONIC_USEC=") && reload[1].hasPrefix("READY=1"), "\(reload)")
        daemon.signal(SIGTERM)
        let stop = listener.receive(for: 1.0)
        #expect(stop.contains("STOPPING=1"), "\(stop)")
        #expect(try daemon.stop() == 0)
    }

    /// Any tandemd may keep its repository on S3 (here the Ceph gateway `make test` starts):
    /// the index lives in the local cache, and the data restores byte for byte.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["S3_ENDPOINT"] != nil, "no S3 gateway (make test starts one)"))
    func tandemdKeepsItsRepositoryOnS3() throws {
        let env = ProcessInfo.processInfo.environment
        let secretFile = NSTemporaryDirectory() + "tandem-s3-secret-" + UUID().uuidString
        try (env["S3_SECRET_KEY"] ?? "").write(toFile: secretFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: secretFile) }
        let bucket = "tandem-e2e-\(UUID().uuidString.prefix(8).lowercased())"
        let daemon = try DaemonProcess(policies: ["alpha": Self.basicPolicy.replacingOccurrences(of: "every: 2s", with: "every: 1h")],
                                       files: Self.files, repository: """
            {backend: s3, endpoint: "\(env["S3_ENDPOINT"]!)", bucket: \(bucket), prefix: site-a, region: "\(env["S3_REGION"] ?? "default")", access_key: "\(env["S3_ACCESS_KEY"]!)", secret_key_file: \(secretFile)}
            """)
        try daemon.start()
        try daemon.wait("the first backup on S3") { daemon.log.contains("backup committed") }
        let target = daemon.root + "/restored"
        let restore = try daemon.cli().run(["restore", "--tenant", "alpha", "latest", "--target", target])
        #expect(restore.status == 0, "\(restore.stderr)")
        for (name, bytes) in Self.files {
            expectSameBytes(FileManager.default.contents(atPath: target + "/" + name.dropFirst("docs/".count)), bytes)
        }
        let check = try daemon.cli().run(["check", "--tenant", "alpha", "--read-data"])
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
        #expect(try daemon.stop() == 0)
        // Offline, tandemctl reads the same bucket with its own cache.
        var offline = CLIRunner(repo: "")
        offline.environment["XDG_CACHE_HOME"] = daemon.root + "/cli-cache"
        let listed = try offline.jsonArray(["snapshots", "--repo", "s3:\(env["S3_ENDPOINT"]!)/\(bucket)/site-a", "--tenant", "alpha",
                                            "--key-file", daemon.keyFile])
        #expect(listed.count == 1)
    }

    @Test func anInvalidConfigStopsTandemdAtStartWithItsLocation() throws {
        let daemon = try DaemonProcess(policies: ["alpha": "tenant: alpha\nkey: {key_file: /k}\nsources: 7\n"])
        #expect(throws: DaemonFailure.self) { try daemon.start() }
        #expect(daemon.process.terminationStatus == 2)
        #expect(daemon.log.contains("alpha.yaml:3:10: sources: expected a list"))
    }
}
