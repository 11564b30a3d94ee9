import Foundation
import Testing
import TandemTestSupport

extension SiteProcessTests {
    /// Two near sites as twins, two real tandemd processes on loopback with mutual TLS: a backup
    /// at the tenant's home site is acknowledged only once the twin holds it; the twin refuses
    /// to back the tenant up itself; a twin that was away is caught up when it returns; with
    /// `twin: required`, a backup while the twin is away fails clearly.
    @Suite(.serialized) struct TwinEndToEndTests {
        static let files: [String: Data] = [
            "docs/a.txt": Data("mirrored document\n".utf8),
            "docs/b.bin": sampleBytes(600_000, seed: 21),
        ]

        /// A loopback port nobody listens on right now.
        static func freePort() throws -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            guard bound else { throw DaemonFailure(description: "cannot find a free port") }
            return Int(UInt16(bigEndian: address.sin_port))
        }

        static func policy(twin: String, suite: String = "aes256gcm") -> String {
            """
            tenant: alpha
            key: {key_file: $KEY}
            suite: \(suite)
            home_site: home-a
            twin: \(twin)
            sources:
              - {name: docs, directory: $ROOT/data/docs}
            """
        }

        static func site(_ name: String, port: Int, twin: String, twinPort: Int, certs: String, heartbeat: String = "") -> String {
            """
            role: near
            listen: 127.0.0.1:\(port)
            tls: {ca: \(certs)/ca.pem, certificate: \(certs)/\(name).pem, key: \(certs)/\(name).key}
            peers:
              - {name: \(twin), role: twin, address: 127.0.0.1:\(twinPort)}
            \(heartbeat)
            """
        }

        func makeCerts(_ sites: [String]) throws -> String {
            let dir = NSTemporaryDirectory() + "tandem-twin-certs-" + UUID().uuidString.prefix(8).lowercased()
            let result = try CLIRunner(repo: "").run(["certs", "init", "--dir", dir] + sites.flatMap { ["--site", $0] })
            #expect(result.status == 0, "\(result.stderr)")
            return dir
        }

        func tenantStatus(_ daemon: DaemonProcess) throws -> [String: Any] {
            ((try daemon.cli().json(["status"])["tenants"] as? [[String: Any]])?.first) ?? [:]
        }

        func restoreOffline(at daemon: DaemonProcess, keyFile: String) throws -> (snapshots: Int, target: String) {
            let offline = CLIRunner(repo: daemon.repository)
            let listed = try offline.jsonArray(["snapshots", "--repo", daemon.repository, "--tenant", "alpha", "--key-file", keyFile])
            let target = daemon.root + "/restored-\(UUID().uuidString.prefix(6))"
            let restored = try offline.run(["restore", "--repo", daemon.repository, "--tenant", "alpha", "latest", "--target", target,
                                            "--key-file", keyFile])
            #expect(restored.status == 0, "\(restored.stderr)")
            let check = try offline.run(["check", "--repo", daemon.repository, "--tenant", "alpha", "--key-file", keyFile, "--read-data"])
            #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
            return (listed.count, target)
        }

        @Test func theTwinHoldsEveryAcknowledgedSnapshotAndCatchesUpAfterBeingAway() throws {
            let certs = try makeCerts(["home-a", "home-b"])
            defer { try? FileManager.default.removeItem(atPath: certs) }
            let portA = try Self.freePort(), portB = try Self.freePort()
            // The GM suite, end to end: created by the daemon from `suite: sm4`, mirrored, restored
            // at the twin alone.
            let twin = try DaemonProcess(policies: ["alpha": Self.policy(twin: "preferred", suite: "sm4")], files: Self.files, site: "home-b",
                                         extraSite: Self.site("home-b", port: portB, twin: "home-a", twinPort: portA, certs: certs))
            let home = try DaemonProcess(policies: ["alpha": Self.policy(twin: "preferred", suite: "sm4")], files: Self.files, site: "home-a",
                                         extraSite: Self.site("home-a", port: portA, twin: "home-b", twinPort: portB, certs: certs))
            try twin.start()
            try home.start()
            try home.wait("the twin's heartbeat link") { try tenantStatus(home)["twin_state"] as? String == "in_sync" }

            let first = try home.cli().run(["backup", "now", "--tenant", "alpha"])
            #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
            #expect(home.log.contains("the twin holds the snapshot"))
            // The packs went to the twin while the backup ran, not only at commit.
            #expect(!home.log.contains("stream packs") && !home.log.contains("streaming packs"), "\(home.log.suffix(2000))")
            let status = try tenantStatus(home)
            #expect(status["active_site"] as? String == "home-a" && status["epoch"] as? Int == 1, "\(status)")
            #expect(status["twin_state"] as? String == "in_sync" && status["twin_pending_snapshots"] as? Int == 0, "\(status)")
            let text = try home.cli().run(["status"])
            #expect(text.stdout.contains("active at home-a, epoch 1; twin in_sync"), "\(text.stdout)")
            // A drill at the twin: its newest snapshot fetched, verified and restored in scratch.
            let drill = try home.cli().run(["drill", "--tenant", "alpha", "--site", "twin", "--json"])
            #expect(drill.status == 0, "\(drill.stdout) \(drill.stderr)")
            let drilled = try JSONSerialization.jsonObject(with: drill.stdoutBytes) as? [String: Any]
            #expect(drilled?["site"] as? String == "twin" && drilled?["verified"] as? Bool == true && drilled?["objectives_met"] as? Bool == true,
                    "\(drill.stdout)")
            #expect((drilled?["rto_seconds"] as? Double ?? 0) > 0 && drilled?["snapshot_id"] as? String != nil)
            // The twin has no RPO objective of its own (issue 19, point 12): it must be current.
            #expect(drilled?["twin_current"] as? Bool == true && drilled?["rpo_objective_seconds"] == nil, "\(drill.stdout)")
            let drillText = try home.cli().run(["drill", "--tenant", "alpha", "--site", "twin"])
            #expect(drillText.status == 0 && drillText.stdout.contains("the twin holds the newest snapshot committed here")
                    && !drillText.stdout.contains("objective"), "\(drillText.stdout)")
            // The twin does not back the tenant up itself.
            let refused = try twin.cli().run(["backup", "now", "--tenant", "alpha"])
            #expect(refused.status != 0 && refused.stderr.contains("active at home-a"), "\(refused.stderr)")
            #expect(try tenantStatus(twin)["active_site"] as? String == "home-a")
            #expect(try tenantStatus(twin)["snapshots"] as? Int == 1, "the twin should count the snapshot it holds")
            let settings = try String(contentsOfFile: twin.repository + "/tenants/alpha/tenant.json", encoding: .utf8)
            #expect(settings.contains("sm4gcm"), "the twin's copy of the tenant is not the GM suite: \(settings)")

            // The twin goes away; with twin: preferred the home site goes on, and the twin is
            // caught up (only what it lacks) when it returns.
            #expect(try twin.stop() == 0)
            try Data("changed while the twin was away\n".utf8).write(to: URL(fileURLWithPath: home.root + "/data/docs/a.txt"))
            let second = try home.cli().run(["backup", "now", "--tenant", "alpha"])
            #expect(second.status == 0, "\(second.stdout) \(second.stderr)")
            #expect(home.log.contains("the twin does not hold the snapshot yet"))
            try home.wait("the twin to be reported behind") {
                let item = try tenantStatus(home)
                return item["twin_pending_snapshots"] as? Int == 1 && item["twin_state"] as? String != "in_sync"
            }
            try twin.start()
            try home.wait("the twin to catch up") {
                let item = try tenantStatus(home)
                return item["twin_pending_snapshots"] as? Int == 0 && item["twin_state"] as? String == "in_sync"
            }
            #expect(try home.stop() == 0)
            #expect(try twin.stop() == 0)
            // Both snapshots restore at the twin, with the tenant's key, byte for byte.
            let (count, target) = try restoreOffline(at: twin, keyFile: home.keyFile)
            #expect(count == 2)
            expectSameBytes(FileManager.default.contents(atPath: target + "/a.txt"), Data("changed while the twin was away\n".utf8))
            expectSameBytes(FileManager.default.contents(atPath: target + "/b.bin"), Self.files["docs/b.bin"])
        }

        /// Retention at the home site (keep the last one) reaches the twin: after three
        /// backups, each rewriting the data, the twin holds exactly the home's one snapshot and
        /// its packs, and that snapshot restores there.
        @Test func theTwinFollowsTheHomeSitesRetention() throws {
            let certs = try makeCerts(["home-a", "home-b"])
            defer { try? FileManager.default.removeItem(atPath: certs) }
            let portA = try Self.freePort(), portB = try Self.freePort()
            let policy = Self.policy(twin: "preferred") + "\nretention:\n  default: {keep_last: 1}\n"
            let twin = try DaemonProcess(policies: ["alpha": policy], files: Self.files, site: "home-b",
                                         extraSite: Self.site("home-b", port: portB, twin: "home-a", twinPort: portA, certs: certs))
            let home = try DaemonProcess(policies: ["alpha": policy], files: Self.files, site: "home-a",
                                         extraSite: Self.site("home-a", port: portA, twin: "home-b", twinPort: portB, certs: certs))
            try twin.start()
            try home.start()
            try home.wait("the twin's heartbeat link") { try tenantStatus(home)["twin_state"] as? String == "in_sync" }
            var latest = Data()
            for round in 0..<3 {
                latest = sampleBytes(600_000, seed: UInt64(300 + round))
                try latest.write(to: URL(fileURLWithPath: home.root + "/data/docs/b.bin"))
                let backup = try home.cli().run(["backup", "now", "--tenant", "alpha"])
                #expect(backup.status == 0, "\(backup.stdout) \(backup.stderr)")
            }
            func held(_ daemon: DaemonProcess, _ folder: String) -> Set<String> {
                let path = daemon.repository + "/tenants/alpha/" + folder
                let names = (try? FileManager.default.subpathsOfDirectory(atPath: path)) ?? []
                return Set(names.compactMap { $0.split(separator: "/").last.map(String.init) }.filter { $0.count == 64 })
            }
            try home.wait("the twin to follow retention") {
                held(home, "snapshots").count == 1 && held(twin, "snapshots") == held(home, "snapshots")
                    && held(twin, "packs") == held(home, "packs")
            }
            #expect(home.log.contains("retention carried to the twin"), "\(home.log.suffix(3000))")
            #expect(try home.stop() == 0)
            #expect(try twin.stop() == 0)
            let (count, target) = try restoreOffline(at: twin, keyFile: home.keyFile)
            #expect(count == 1)
            expectSameBytes(FileManager.default.contents(atPath: target + "/b.bin"), latest)
        }

        @Test func aRequiredTwinThatIsAwayFailsTheBackupClearly() throws {
            let certs = try makeCerts(["home-a", "home-b"])
            defer { try? FileManager.default.removeItem(atPath: certs) }
            let heartbeat = "heartbeat: {interval: 200ms, failover_after: 3, lease: 2s, drift_margin: 200ms}"
            let home = try DaemonProcess(policies: ["alpha": Self.policy(twin: "required")], files: Self.files, site: "home-a",
                                         extraSite: Self.site("home-a", port: try Self.freePort(), twin: "home-b",
                                                              twinPort: try Self.freePort(), certs: certs, heartbeat: heartbeat))
            try home.start()
            let began = Date()
            let backup = try home.cli().run(["backup", "now", "--tenant", "alpha"])
            #expect(backup.status == 13, "\(backup.stdout) \(backup.stderr)")
            #expect(backup.stdout.contains("the twin home-b does not hold snapshot") && backup.stdout.contains("twin: required"), "\(backup.stdout)")
            // It waited for the twin one lease (2 s), not forever.
            #expect(Date().timeIntervalSince(began) >= 2 && Date().timeIntervalSince(began) < 30)
            let status = try tenantStatus(home)
            #expect(status["twin_state"] as? String == "unreachable" && status["twin_pending_snapshots"] as? Int == 1, "\(status)")
            #expect(try home.stop() == 0)
        }
    }
}
