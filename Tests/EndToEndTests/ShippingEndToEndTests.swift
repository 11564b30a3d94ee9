import Foundation
import Testing
import TandemTestSupport

/// A near site and a remote site, two real tandemd processes on loopback with mutually
/// authenticated TLS (certificates from `tandemctl certs init`): the near site's committed
/// snapshots reach the remote, which stores them without the tenant's key, and they restore
/// there byte for byte.
@Suite(.serialized) struct ShippingEndToEndTests {
    static let files: [String: Data] = [
        "docs/a.txt": Data("shipped document\n".utf8),
        "docs/b.bin": sampleBytes(700_000, seed: 9),
    ]

    func makeCerts(in dir: String, sites: [String]) throws {
        let result = try CLIRunner(repo: "").run(["certs", "init", "--dir", dir] + sites.flatMap { ["--site", $0] })
        #expect(result.status == 0, "\(result.stderr)")
    }

    /// The port a daemon logged for its site link.
    func linkPort(_ daemon: DaemonProcess) throws -> Int {
        var port = 0
        try daemon.wait("the site link to listen") {
            guard let line = daemon.log.split(separator: "\n").first(where: { $0.contains("site link listening") }),
                  let text = line.split(separator: ":").last.flatMap({ Int($0.prefix { $0.isNumber }) }) else { return false }
            port = text
            return true
        }
        return port
    }

    /// A remote site that knows home-a as a near site, listening on a free port.
    func startRemote(certs: String) throws -> (DaemonProcess, Int) {
        // The remote's copy of the policy has no key and no sources: only its own retention.
        let remote = try DaemonProcess(policies: ["alpha": "tenant: alpha\nretention:\n  default: {keep_last: 1}\n  sites:\n    remote: {keep_last: 5}\n"],
                                       site: "remote", extraSite: """
            role: remote
            listen: 127.0.0.1:0
            tls: {ca: \(certs)/ca.pem, certificate: \(certs)/remote.pem, key: \(certs)/remote.key}
            peers:
              - {name: home-a, role: near, address: 127.0.0.1:1}
            """)
        try remote.start()
        return (remote, try linkPort(remote))
    }

    /// The near site home-a (not started) with tenant alpha backing up `source` hourly
    /// (named in the schedule by its name) and shipping to the remote at `remotePort`.
    func startNear(certs: String, remotePort port: Int, source: String, files: [String: Data], extraPolicy: String = "") throws -> DaemonProcess {
        let name = source.split(separator: ",").first.map { String($0.dropFirst("{name: ".count)) } ?? "docs"
        return try DaemonProcess(policies: ["alpha": """
            tenant: alpha
            key: {key_file: $KEY}
            sources:
              - \(source)
            schedules:
              - {name: hourly, every: 1h, sources: [\(name)]}
            remote_rpo: 1h

            """ + extraPolicy], files: files, site: "home-a", extraSite: """
            role: near
            tls: {ca: \(certs)/ca.pem, certificate: \(certs)/home-a.pem, key: \(certs)/home-a.key}
            peers:
              - {name: remote, role: remote, address: 127.0.0.1:\(port)}
            """)
    }

    @Test func anInstantDrillServesTheRemoteCopyOverNBDBesideTheFullRestore() throws {
        let certs = NSTemporaryDirectory() + "tandem-certs-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: certs) }
        try makeCerts(in: certs, sites: ["home-a", "remote"])
        let (remote, port) = try startRemote(certs: certs)
        let near = try startNear(certs: certs, remotePort: port, source: "{name: disk, image: $ROOT/data/disk.raw}",
                                 files: ["disk.raw": sampleBytes(3 << 20, seed: 11) + Data(count: 1 << 20)])
        try near.start()
        try near.wait("the first snapshot to be complete at the remote") { near.log.contains("snapshot complete at the remote site") }
        let drill = try near.cli().run(["drill", "--tenant", "alpha", "--site", "remote", "--instant", "--json"])
        #expect(drill.status == 0, "\(drill.stdout) \(drill.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: drill.stdoutBytes) as? [String: Any], "\(drill.stdout)")
        let instant = report["instant_rto_seconds"] as? Double ?? -1
        let full = report["rto_seconds"] as? Double ?? -1
        let fetch = report["fetch_seconds"] as? Double ?? -1
        // Both RTOs: the first verified read over NBD comes long before a checked, restored copy.
        #expect(instant > 0 && fetch > 0 && fetch + instant < full, "instant \(instant) s, fetch \(fetch) s, full \(full) s")
        #expect(report["verified"] as? Bool == true && (report["bytes_restored"] as? Int) == 4 << 20)
        let text = try near.cli().run(["drill", "--tenant", "alpha", "--site", "remote", "--instant"])
        #expect(text.status == 0 && text.stdout.contains("instant RTO") && text.stdout.contains("first verified read served over NBD"), "\(text.stdout)")
        let audit = try near.cli().run(["audit", "list", "--limit", "5"])
        #expect(audit.stdout.contains("instant_rto="), "\(audit.stdout) \(audit.stderr)")
        let sockets = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp"))?.filter { $0.hasPrefix("tandem-drill-") } ?? []
        #expect(sockets.isEmpty, "the drill left its socket directory: \(sockets)")
        #expect(try near.stop() == 0)
        #expect(try remote.stop() == 0)
    }

    @Test func committedSnapshotsReachTheRemoteAndRestoreThere() throws {
        let certs = NSTemporaryDirectory() + "tandem-certs-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: certs) }
        try makeCerts(in: certs, sites: ["home-a", "remote"])
        let (remote, port) = try startRemote(certs: certs)
        let near = try startNear(certs: certs, remotePort: port, source: "{name: docs, directory: $ROOT/data/docs}",
                                 files: Self.files, extraPolicy: "bandwidth: 100K/s\n")
        let began = Date()
        try near.start()
        try near.wait("the first snapshot to be complete at the remote") { near.log.contains("snapshot complete at the remote site") }
        // A few hundred KB of packs through a 100 KB/s bucket (100 KB of burst): seconds, not milliseconds.
        #expect(Date().timeIntervalSince(began) >= 1.5, "the tenant's bandwidth limit was not applied")
        // A second backup ships only what the remote lacks.
        try Data("changed\n".utf8).write(to: URL(fileURLWithPath: near.root + "/data/docs/a.txt"))
        let second = try near.cli().run(["backup", "now", "--tenant", "alpha"])
        #expect(second.status == 0, "\(second.stderr)")
        try near.wait("the second snapshot at the remote") { near.log.components(separatedBy: "snapshot complete at the remote site").count > 2 }
        try near.wait("status to show the remote caught up") {
            let status = try near.cli().json(["status"])
            let tenant = (status["tenants"] as? [[String: Any]])?.first
            return tenant?["remote_pending_snapshots"] as? Int == 0 && tenant?["remote_rpo_seconds"] is Double
                && (tenant?["remote_lag_seconds"] as? Double) == 0 && tenant?["remote_pending_bytes"] != nil
        }
        try near.wait("heartbeats both ways") {
            let peers = try near.cli().json(["status"])["peers"] as? [[String: Any]] ?? []
            return peers.first?["heartbeat_link_up"] as? Bool == true
        }
        #expect(remote.log.contains("site link up"))
        // Repair from the remote: one pack altered on disk, another lost.
        let packs = try FileManager.default.subpathsOfDirectory(atPath: near.repository + "/tenants/alpha/packs")
            .filter { $0.count == 67 }.sorted().map { near.repository + "/tenants/alpha/packs/" + $0 }
        try #require(packs.count >= 2, "\(packs)")
        var altered = try Data(contentsOf: URL(fileURLWithPath: packs[0]))
        altered[altered.count / 2] ^= 0xFF
        try altered.write(to: URL(fileURLWithPath: packs[0]))
        try FileManager.default.removeItem(atPath: packs[1])
        let damaged = try near.cli().run(["check", "--tenant", "alpha", "--read-data"])
        #expect(damaged.status == 3, "\(damaged.stdout)")
        let repair = try near.cli().run(["repair", "--tenant", "alpha", "--json"])
        #expect(repair.status == 0, "\(repair.stdout) \(repair.stderr)")
        let report = try JSONSerialization.jsonObject(with: repair.stdoutBytes) as? [String: Any]
        #expect((report?["fetched"] as? [String])?.count == 2, "\(repair.stdout)")
        #expect((report?["problems_after"] as? [String])?.isEmpty == true)
        let clean = try near.cli().run(["check", "--tenant", "alpha", "--read-data"])
        #expect(clean.status == 0, "\(clean.stdout)")
        // A drill at the remote: its newest snapshot fetched, verified and restored in scratch.
        let drill = try near.cli().run(["drill", "--tenant", "alpha", "--site", "remote", "--json"])
        #expect(drill.status == 0, "\(drill.stdout) \(drill.stderr)")
        let drilled = try JSONSerialization.jsonObject(with: drill.stdoutBytes) as? [String: Any]
        #expect((drilled?["rpo_seconds"] as? Double ?? 1e9) < 120 && (drilled?["rto_seconds"] as? Double ?? 0) > 0)
        #expect(drilled?["rpo_met"] as? Bool == true && (drilled?["problems"] as? [String])?.isEmpty == true)
        #expect((drilled?["bytes_restored"] as? Int ?? 0) >= 700_000)
        // An instant drill serves images over NBD; this tenant's copy is a tree.
        let instantTree = try near.cli().run(["drill", "--tenant", "alpha", "--site", "remote", "--instant"])
        #expect(instantTree.status == 64 && instantTree.stderr.contains("is a directory tree: drill it without --instant"), "\(instantTree.stderr)")
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: near.root + "/state/drills")) ?? []
        #expect(leftovers.isEmpty, "the drill left its scratch area: \(leftovers)")
        // The drill's result outlives the daemon: after a restart the metrics still show it,
        // and the overdue clock keeps its start.
        let names = ["tandem_drill_last_success_timestamp_seconds", "tandem_drill_rpo_seconds", "tandem_drill_rto_seconds",
                     "tandem_drill_tracked_since_timestamp_seconds"]
        let drillFigures = { try names.map { try near.metric($0, labels: ["tenant": "alpha", "site": "remote"]) } }
        let before = try drillFigures()
        #expect(before.allSatisfy { ($0 ?? 0) > 0 }, "\(before)")
        #expect(try near.stop() == 0)
        try near.start()
        // Times are kept to the second.
        let after = try drillFigures()
        #expect(zip(before, after).allSatisfy { abs(($0 ?? 0) - ($1 ?? -9)) < 1 }, "before \(before), after \(after)")
        #expect(try near.stop() == 0)
        #expect(try remote.stop() == 0)
        // The remote holds both snapshots; with the tenant's key they restore there.
        let offline = CLIRunner(repo: remote.repository)
        let listed = try offline.jsonArray(["snapshots", "--repo", remote.repository, "--tenant", "alpha", "--key-file", near.keyFile])
        #expect(listed.count == 2)
        let target = remote.root + "/restored"
        let restored = try offline.run(["restore", "--repo", remote.repository, "--tenant", "alpha", "latest", "--target", target,
                                        "--key-file", near.keyFile])
        #expect(restored.status == 0, "\(restored.stderr)")
        expectSameBytes(FileManager.default.contents(atPath: target + "/a.txt"), Data("changed\n".utf8))
        expectSameBytes(FileManager.default.contents(atPath: target + "/b.bin"), Self.files["docs/b.bin"])
        let check = try offline.run(["check", "--repo", remote.repository, "--tenant", "alpha", "--key-file", near.keyFile, "--read-data"])
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
    }

    /// A peer whose certificate is for another site name is refused at the handshake.
    @Test func aPeerWithTheWrongCertificateIsRefused() throws {
        let certs = NSTemporaryDirectory() + "tandem-certs-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: certs) }
        try makeCerts(in: certs, sites: ["home-a", "remote", "mallory"])
        let (remote, port) = try startRemote(certs: certs)
        // mallory holds a valid certificate from the same CA, but for its own name, and claims to be home-a.
        let impostor = try DaemonProcess(policies: [:], site: "home-a", extraSite: """
            role: near
            tls: {ca: \(certs)/ca.pem, certificate: \(certs)/mallory.pem, key: \(certs)/mallory.key}
            peers:
              - {name: remote, role: remote, address: 127.0.0.1:\(port)}
            """)
        try impostor.start()
        try remote.wait("the refusal") { remote.log.contains("site link refused") }
        #expect(remote.log.contains("the certificate is for 'mallory', not for 'home-a'"))
        try impostor.wait("the impostor to see the refusal") { impostor.log.contains("heartbeat link down") }
        #expect(impostor.log.contains("refused by the peer: site_name"))
        #expect(try impostor.stop() == 0)
        #expect(try remote.stop() == 0)
    }
}
