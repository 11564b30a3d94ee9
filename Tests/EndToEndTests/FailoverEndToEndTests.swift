import Foundation
import Testing
import TandemTestSupport

extension SiteProcessTests {
    /// Three real tandemd processes on loopback: two near sites as twins and the remote site as
    /// the witness. The home site holds the tenant's lease; killed with -9, its twin takes the
    /// tenant over (the witness agreeing, the old lease run out) with the next epoch, and takes
    /// backups; the old home, restarted, finds itself fenced and becomes the twin.
    @Suite(.serialized) struct FailoverEndToEndTests {
        static let heartbeat = "heartbeat: {interval: 500ms, failover_after: 3, lease: 4s, drift_margin: 500ms}"

        static func nearSite(_ name: String, ports: [String: Int], certs: String) -> String {
            let twin = name == "home-a" ? "home-b" : "home-a"
            return """
                role: near
                listen: 127.0.0.1:\(ports[name]!)
                tls: {ca: \(certs)/ca.pem, certificate: \(certs)/\(name).pem, key: \(certs)/\(name).key}
                peers:
                  - {name: \(twin), role: twin, address: 127.0.0.1:\(ports[twin]!)}
                  - {name: remote, role: remote, address: 127.0.0.1:\(ports["remote"]!)}
                \(heartbeat)
                shipping: {retry: 1s}
                """
        }

        /// The remote (witness), home-a (home of tenant alpha) and home-b (twin) on loopback,
        /// started in that order, home-a holding the lease and home-b in sync; the caller removes
        /// `certs`.
        struct ThreeSites {
            let certs: String
            let remote: DaemonProcess
            let twin: DaemonProcess
            let home: DaemonProcess
        }

        static func startThreeSites(policy: String, remotePolicy: String, files: [String: Data]) throws -> ThreeSites {
            let certs = NSTemporaryDirectory() + "tandem-three-sites-" + UUID().uuidString.prefix(8).lowercased()
            #expect(try CLIRunner(repo: "").run(["certs", "init", "--dir", certs, "--site", "home-a", "--site", "home-b", "--site", "remote"]).status == 0)
            var ports: [String: Int] = [:]
            for site in ["home-a", "home-b", "remote"] { ports[site] = try TwinEndToEndTests.freePort() }
            let remote = try DaemonProcess(policies: ["alpha": remotePolicy], site: "remote", extraSite: """
                role: remote
                listen: 127.0.0.1:\(ports["remote"]!)
                tls: {ca: \(certs)/ca.pem, certificate: \(certs)/remote.pem, key: \(certs)/remote.key}
                peers:
                  - {name: home-a, role: near, address: 127.0.0.1:\(ports["home-a"]!)}
                  - {name: home-b, role: near, address: 127.0.0.1:\(ports["home-b"]!)}
                \(heartbeat)
                """)
            let twin = try DaemonProcess(policies: ["alpha": policy], files: files, site: "home-b",
                                         extraSite: nearSite("home-b", ports: ports, certs: certs))
            let home = try DaemonProcess(policies: ["alpha": policy], files: files, site: "home-a",
                                         extraSite: nearSite("home-a", ports: ports, certs: certs))
            // The twin starts only once the home holds the lease (the home's own grant and the
            // witness's are a majority): started together, a home slowed by the suite running
            // beside it could stay silent past the witness's start-up grace, and the twin would
            // rightly take the tenant over before the test begins.
            try remote.start()
            try home.start()
            try home.wait("home-a to hold the lease", timeout: 90) {
                ((try home.cli().json(["status"])["tenants"] as? [[String: Any]])?.first?["lease_expires"]) != nil
            }
            try twin.start()
            // The link, not "in_sync": a start-up connection error stays in the queue's last error
            // until the next shipment (issue 19, point 5).
            try home.wait("home-b's link to home-a", timeout: 90) {
                let item = (try home.cli().json(["status"])["tenants"] as? [[String: Any]])?.first
                return ["in_sync", "catching_up"].contains(item?["twin_state"] as? String ?? "")
            }
            return ThreeSites(certs: certs, remote: remote, twin: twin, home: home)
        }

        func status(_ daemon: DaemonProcess) throws -> [String: Any] {
            ((try daemon.cli().json(["status"])["tenants"] as? [[String: Any]])?.first) ?? [:]
        }

        /// A fresh start with leases: the home's schedule waits for its first lease and then
        /// fires, instead of queueing runs that fail while the voters still recover (issue 19,
        /// point 11); the witness's remote RPO is not judged at the twin.
        @Test func schedulesWaitForTheFirstLease() throws {
            let policy = """
                tenant: alpha
                key: {key_file: $KEY}
                home_site: home-a
                twin: preferred
                remote_rpo: 1s
                sources:
                  - {name: docs, directory: $ROOT/data/docs}
                schedules:
                  - {name: often, every: 1m, sources: [docs]}
                """
            let sites = try Self.startThreeSites(policy: policy, remotePolicy: "tenant: alpha\nhome_site: home-a\n",
                                                 files: ["docs/a.txt": Data("scheduled\n".utf8)])
            defer { try? FileManager.default.removeItem(atPath: sites.certs) }
            try sites.home.wait("the first scheduled backup", timeout: 60) { sites.home.log.contains("backup committed") }
            let item = try status(sites.home)
            #expect(item["failures"] as? Int == 0, "\(item)")
            #expect((item["last_backup"] as? [String: Any])?["result"] as? String == "success", "\(item)")
            #expect(!sites.home.log.contains("does not hold the lease"), "a scheduled run was queued before the lease")
            // The remote RPO is the active site's to judge: its twin raises no alert for it.
            try sites.twin.wait("the twin's shipper to report", timeout: 30) { sites.twin.log.contains("heartbeat link up") }
            #expect(try sites.twin.metric("tandem_remote_rpo_exceeded", "tenant", "alpha") == 0)
            #expect(try sites.remote.stop() == 0)
            #expect(try sites.twin.stop() == 0)
            #expect(try sites.home.stop() == 0)
        }

        /// The home site and the witness are both gone: the twin does not take over by itself
        /// (no majority), and the operator's forced promotion, with a reason, makes it writable at
        /// the next epoch; the divergence is reported and audited.
        @Test func aForcedPromotionNeedsTheOperatorAndIsAudited() throws {
            let policy = "tenant: alpha\nkey: {key_file: $KEY}\nhome_site: home-a\nsources:\n  - {name: docs, directory: $ROOT/data/docs}\n"
            let files: [String: Data] = ["docs/a.txt": Data("forced\n".utf8)]
            let sites = try Self.startThreeSites(policy: policy, remotePolicy: "tenant: alpha\n", files: files)
            defer { try? FileManager.default.removeItem(atPath: sites.certs) }
            let (remote, twin, home) = (sites.remote, sites.twin, sites.home)
            try home.wait("home-a to hold the lease", timeout: 30) { try status(home)["lease_expires"] != nil }
            // A forced promotion while the active site is alive is refused.
            let early = try twin.cli().run(["failover", "--tenant", "alpha", "--force", "--reason", "drill"])
            #expect(early.status == 11 && early.stderr.contains("no forced promotion"), "\(early.status) \(early.stderr)")
            home.signal(SIGKILL)
            remote.signal(SIGKILL)
            home.process.waitUntilExit()
            remote.process.waitUntilExit()
            // Without the witness the twin holds off, however long it waits.
            try twin.wait("the twin to hold off", timeout: 30) { twin.log.contains("not taking over yet") }
            Thread.sleep(forTimeInterval: 3)
            #expect(try status(twin)["active_site"] as? String == "home-a")
            let forced = try twin.cli().run(["failover", "--tenant", "alpha", "--force", "--reason", "flood in building A", "--json"])
            #expect(forced.status == 0, "\(forced.stdout) \(forced.stderr)")
            let reports = (try JSONSerialization.jsonObject(with: forced.stdoutBytes) as? [String: Any])?["failovers"] as? [[String: Any]]
            #expect(reports?.first?["kind"] as? String == "forced" && reports?.first?["epoch"] as? Int == 2, "\(forced.stdout)")
            #expect((reports?.first?["divergence"] as? String)?.contains("both histories are kept") == true)
            let backup = try twin.cli().run(["backup", "now", "--tenant", "alpha"])
            #expect(backup.status == 0, "\(backup.stdout) \(backup.stderr)")
            #expect(try twin.stop() == 0)
            let audit = try String(contentsOfFile: twin.root + "/state/audit.log", encoding: .utf8)
            #expect(audit.contains("reason=flood in building A"), "\(audit.suffix(1500))")
        }

        /// Degraded mode: the twin is away while the home acknowledges N snapshots (the witness
        /// records the twin outdated first); the home dies; the stale twin starts and refuses to
        /// take over. The home returns, catches the twin up (the mark is cleared), dies again, and
        /// now the twin takes over with all N.
        @Test func aStaleTwinDoesNotTakeOverUntilItHoldsEverything() throws {
            let policy = "tenant: alpha\nkey: {key_file: $KEY}\nhome_site: home-a\ntwin: preferred\nsources:\n  - {name: docs, directory: $ROOT/data/docs}\n"
            let files: [String: Data] = ["docs/a.txt": Data("degraded 0\n".utf8)]
            let sites = try Self.startThreeSites(policy: policy, remotePolicy: "tenant: alpha\n", files: files)
            defer { try? FileManager.default.removeItem(atPath: sites.certs) }
            let (remote, twin, home) = (sites.remote, sites.twin, sites.home)
            try home.wait("home-a to hold the lease", timeout: 30) { try status(home)["lease_expires"] != nil }
            twin.signal(SIGKILL)
            twin.process.waitUntilExit()
            for n in 1...2 {
                try Data("degraded \(n)\n".utf8).write(to: URL(fileURLWithPath: home.root + "/data/docs/a.txt"))
                let backup = try home.cli().run(["backup", "now", "--tenant", "alpha"])
                #expect(backup.status == 0, "\(backup.stdout) \(backup.stderr)")
            }
            #expect(remote.log.contains("twin recorded outdated"))
            try home.wait("the twin to show as outdated") { try status(home)["twin_state"] as? String == "outdated" }
            home.signal(SIGKILL)
            home.process.waitUntilExit()
            // The stale twin comes up alone with the witness: it must not take over.
            try twin.start()
            Thread.sleep(forTimeInterval: 5)
            #expect(try status(twin)["active_site"] as? String == "home-a", "a stale twin took the tenant over")
            #expect(twin.log.contains("lacks acknowledged data"), "\(twin.log.suffix(2000))")
            // The home returns and catches the twin up; the witness clears the mark.
            let clearedBefore = remote.log.components(separatedBy: "twin no longer outdated").count
            try home.start()
            try home.wait("the twin to catch up", timeout: 30) {
                let item = try status(home)
                return item["twin_state"] as? String == "in_sync" && item["lease_expires"] != nil
            }
            try remote.wait("the witness to clear the mark", timeout: 30) {
                remote.log.components(separatedBy: "twin no longer outdated").count > clearedBefore
            }
            try home.wait("the twin to hear it", timeout: 30) { home.log.contains("the witness cleared its outdated mark") }
            home.signal(SIGKILL)
            home.process.waitUntilExit()
            try twin.wait("home-b to take over now", timeout: 30) {
                let item = try status(twin)
                return item["active_site"] as? String == "home-b" && item["epoch"] as? Int == 2
            }
            #expect(try twin.stop() == 0)
            #expect(try remote.stop() == 0)
            let offline = CLIRunner(repo: twin.repository)
            let listed = try offline.jsonArray(["snapshots", "--repo", twin.repository, "--tenant", "alpha", "--key-file", home.keyFile])
            #expect(listed.count == 2, "the twin lost acknowledged snapshots: \(listed.count) of 2")
            let target = twin.root + "/restored"
            let restored = try offline.run(["restore", "--repo", twin.repository, "--tenant", "alpha", "latest", "--target", target,
                                            "--key-file", home.keyFile])
            #expect(restored.status == 0, "\(restored.stderr)")
            expectSameBytes(FileManager.default.contents(atPath: target + "/a.txt"), Data("degraded 2\n".utf8))
        }
    }
}
