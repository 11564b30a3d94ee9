import Foundation
import Testing
import TandemTestSupport

extension SiteProcessTests.FailoverEndToEndTests {
    /// The operator's view through a whole failover and back (issue 19): home-a killed with -9,
    /// home-b's takeover, home-a's fenced restart, the catch-up, the failback and a planned
    /// switchover. At each step every live site's `status --json` and `/metrics`, the
    /// witness's included, name the same active site and epoch; only the active site holds a
    /// lease; the counters say what happened where; and every documented metric is there from
    /// start-up.
    @Test func everySiteAgreesAtEveryStepOfAFailoverAndBack() throws {
        let policy = """
            tenant: alpha
            key: {key_file: $KEY}
            home_site: home-a
            twin: preferred
            rpo: 1h
            remote_rpo: 1h
            quota: {soft: 1G, hard: 2G}
            sources:
              - {name: docs, directory: $ROOT/data/docs}
            """
        let files: [String: Data] = ["docs/a.txt": Data("before the failover\n".utf8), "docs/b.bin": sampleBytes(300_000, seed: 31)]
        let sites = try Self.startThreeSites(policy: policy, remotePolicy: "tenant: alpha\nhome_site: home-a\n", files: files)
        defer { try? FileManager.default.removeItem(atPath: sites.certs) }
        let (remote, twin, home) = (sites.remote, sites.twin, sites.home)
        let all = ["home-a": home, "home-b": twin, "remote": remote]

        // Start-up: every metric README documents is on each site's first page.
        for (name, site) in all { try expectDocumentedMetrics(at: site, near: name != "remote") }
        try expectAgreement("start-up", active: "home-a", epoch: 1, live: all)
        #expect(try home.metric("tandem_twin_in_sync", "tenant", "alpha") == 1)
        try twin.wait("home-b to hear home-a's heartbeats") {
            let age = try twin.metric("tandem_peer_heartbeat_age_seconds", "peer", "home-a") ?? -1
            return age >= 0 && age < 2
        }
        let first = try home.cli().run(["backup", "now", "--tenant", "alpha"])
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")

        // Kill -9: the twin counts down, then takes over at epoch 2 with the witness.
        for name in ["tandem_takeovers_total", "tandem_fenced_total", "tandem_twin_stale_writes_refused_total"] {
            #expect(try twin.metric(name, "tenant", "alpha") == 0, "\(name) exists from start-up")
        }
        home.signal(SIGKILL)
        home.process.waitUntilExit()
        let killed = Date()
        try twin.wait("home-b to show the takeover countdown", timeout: 30) {
            try status(twin)["takeover_in_seconds"] is Double || status(twin)["active_site"] as? String == "home-b"
        }
        try expectAgreement("takeover", active: "home-b", epoch: 2, live: ["home-b": twin, "remote": remote])
        let takeover = Date().timeIntervalSince(killed)
        report("failover: home-b took over and the witness agreed \(String(format: "%.2f", takeover)) s after home-a was killed")
        // Within failover_after heartbeats plus the lease of the last heartbeat heard, with room for a busy machine.
        #expect(takeover < 1.5 + 4 + 8, "takeover after \(takeover) s")
        #expect(twin.log.contains("taking the tenant over"))
        #expect(try twin.metric("tandem_takeovers_total", "tenant", "alpha") == 1)
        #expect(try remote.metric("tandem_takeovers_total", "tenant", "alpha") == 0, "the witness took nothing over")
        let twinAlone = try status(twin)
        #expect(twinAlone["twin_state"] as? String == "unreachable", "\(twinAlone)")
        #expect(try twin.metric("tandem_twin_in_sync", "tenant", "alpha") == 0)
        for site in [twin, remote] {
            try site.wait("\(site.root): home-a's link down", timeout: 30) { try site.metric("tandem_peer_link_up", "peer", "home-a") == 0 }
            // Silent since the kill: its last heartbeat is at least the failover delay old.
            #expect(try (site.metric("tandem_peer_heartbeat_age_seconds", "peer", "home-a") ?? 0) >= 1.5)
        }
        try Data("after the failover\n".utf8).write(to: URL(fileURLWithPath: twin.root + "/data/docs/a.txt"))
        let second = try twin.cli().run(["backup", "now", "--tenant", "alpha"])
        #expect(second.status == 0, "\(second.stdout) \(second.stderr)")

        // Fenced restart: the voters tell home-a of epoch 2; it writes nothing and is the twin.
        try home.start()
        try expectAgreement("fenced restart", active: "home-b", epoch: 2, live: all)
        // The voters' refusal fenced it: counted where it happened, and nowhere else.
        try home.wait("home-a to count its fencing") { try home.metric("tandem_fenced_total", "tenant", "alpha") == 1 }
        #expect(try twin.metric("tandem_fenced_total", "tenant", "alpha") == 0)
        let refused = try home.cli().run(["backup", "now", "--tenant", "alpha"])
        #expect(refused.status == 11 && refused.stderr.contains("active at home-b"), "\(refused.status) \(refused.stderr)")
        #expect(try home.metric("tandem_remote_rpo_exceeded", "tenant", "alpha") == 0, "a twin judges no remote RPO")

        // Catch-up: home-b sends home-a what it lacks; both sites say in sync, in status and metrics.
        try twin.wait("home-a to catch up", timeout: 30) {
            let item = try status(twin), inSync = try twin.metric("tandem_twin_in_sync", "tenant", "alpha")
            return item["twin_state"] as? String == "in_sync" && item["twin_pending_snapshots"] as? Int == 0 && inSync == 1
        }
        #expect(try twin.metric("tandem_twin_pending_snapshots", "tenant", "alpha") == 0)
        #expect(try twin.metric("tandem_twin_pending_bytes", "tenant", "alpha") == 0)
        try home.wait("home-a, the twin, to say it is in sync") {
            let state = try status(home)["twin_state"] as? String, inSync = try home.metric("tandem_twin_in_sync", "tenant", "alpha")
            return state == "in_sync" && inSync == 1
        }
        // What the twin holds is counted from its store, not from the index it wrote while active.
        // Both sites hold the same packs now, so the same bytes.
        let activeUsed = try status(twin)["quota_used_bytes"] as? Int ?? 0
        #expect(activeUsed > 100_000)
        var seen = ""
        try home.wait("home-a to count both snapshots and their bytes", timeout: 30) {
            let item = try status(home), stored = try home.metric("tandem_stored_bytes", "tenant", "alpha") ?? 0
            seen = "status \(item), tandem_stored_bytes \(stored), at home-b \(activeUsed)"
            return item["snapshots"] as? Int == 2 && item["quota_used_bytes"] as? Int == activeUsed && stored == Double(activeUsed)
        } onTimeout: { "last seen: \(seen)" }
        #expect(try home.metric("tandem_snapshots", "tenant", "alpha") == 2)

        // Failback: a planned switchover to home-a at epoch 3, asked at home-b.
        let back = try twin.cli().run(["failback", "--tenant", "alpha", "--json"])
        #expect(back.status == 0, "\(back.stdout) \(back.stderr)")
        let backReport = try JSONSerialization.jsonObject(with: back.stdoutBytes) as? [String: Any]
        #expect(backReport?["kind"] as? String == "switchover" && backReport?["to"] as? String == "home-a"
                && backReport?["epoch"] as? Int == 3, "\(back.stdout)")
        try expectAgreement("failback", active: "home-a", epoch: 3, live: all)
        #expect(try home.metric("tandem_switchovers_total", "tenant", "alpha") == 1)
        #expect(try twin.metric("tandem_switchovers_total", "tenant", "alpha") == 0)
        try Data("after the failback\n".utf8).write(to: URL(fileURLWithPath: home.root + "/data/docs/a.txt"))
        let third = try home.cli().run(["backup", "now", "--tenant", "alpha"])
        #expect(third.status == 0, "\(third.stdout) \(third.stderr)")
        let wrongSite = try twin.cli().run(["failover", "--tenant", "alpha"])
        #expect(wrongSite.status == 11 && wrongSite.stderr.contains("active at home-a"), "\(wrongSite.status) \(wrongSite.stderr)")
        let home2 = try home.cli().run(["failback", "--tenant", "alpha"])
        #expect(home2.status == 11 && home2.stderr.contains("at its home site home-a already"), "\(home2.status) \(home2.stderr)")

        // A planned switchover away from home: home-b at epoch 4, all three agreeing.
        let away = try home.cli().run(["failover", "--tenant", "alpha", "--json"])
        #expect(away.status == 0, "\(away.stdout) \(away.stderr)")
        let moved = (try JSONSerialization.jsonObject(with: away.stdoutBytes) as? [String: Any])?["failovers"] as? [[String: Any]]
        #expect(moved?.first?["kind"] as? String == "switchover" && moved?.first?["to"] as? String == "home-b"
                && moved?.first?["epoch"] as? Int == 4, "\(away.stdout)")
        try expectAgreement("planned switchover", active: "home-b", epoch: 4, live: all)
        #expect(try twin.metric("tandem_switchovers_total", "tenant", "alpha") == 1)
        #expect(try twin.metric("tandem_takeovers_total", "tenant", "alpha") == 1, "a switchover is not a takeover")
        try Data("after the switchover\n".utf8).write(to: URL(fileURLWithPath: twin.root + "/data/docs/a.txt"))
        let fourth = try twin.cli().run(["backup", "now", "--tenant", "alpha"])
        #expect(fourth.status == 0, "\(fourth.stdout) \(fourth.stderr)")
        // The remote counts what it holds, too, once the shipments are in.
        try remote.wait("the remote to count its copies") {
            let item = try status(remote)
            return (item["snapshots"] as? Int ?? 0) >= 1 && (item["quota_used_bytes"] as? Int ?? 0) > 100_000
        }
        for site in [home, twin, remote] { #expect(try site.metricsLint() == "", "\(site.root)") }

        #expect(try home.stop() == 0)
        #expect(try twin.stop() == 0)
        #expect(try remote.stop() == 0)
        let audit = try String(contentsOfFile: twin.root + "/state/audit.log", encoding: .utf8)
        #expect(audit.contains("\"failover\"") && audit.contains("switchover to=home-a"), "\(audit.suffix(1500))")
        // Every snapshot, through the failover, the failback and the switchover, is at both sites.
        for site in [home, twin] {
            let listed = try CLIRunner(repo: site.repository).jsonArray(["snapshots", "--repo", site.repository, "--tenant", "alpha",
                                                                         "--key-file", home.keyFile])
            #expect(listed.count == 4, "\(site.root): \(listed.count) snapshots")
        }
        let target = home.root + "/restored"
        let restored = try CLIRunner(repo: home.repository).run(["restore", "--repo", home.repository, "--tenant", "alpha", "latest",
                                                                 "--target", target, "--key-file", home.keyFile])
        #expect(restored.status == 0, "\(restored.stderr)")
        expectSameBytes(FileManager.default.contents(atPath: target + "/a.txt"), Data("after the switchover\n".utf8))
    }

    /// Waits until every live site's `status --json` and metrics name `active` at `epoch`, then
    /// checks the lease: the active site's runs (status and metric), no other site claims one,
    /// and, once they hear the active site, nobody counts down to a takeover.
    func expectAgreement(_ step: String, active: String, epoch: Int, live: [String: DaemonProcess],
                         sourceLocation: SourceLocation = #_sourceLocation) throws {
        for (name, site) in live.sorted(by: { $0.key < $1.key }) {
            try site.wait("\(name) to show alpha active at \(active), epoch \(epoch) (\(step))", timeout: 30) {
                let item = try status(site)
                let shownEpoch = try site.metric("tandem_tenant_epoch", "tenant", "alpha")
                let shownActive = try site.metric("tandem_tenant_active", "tenant", "alpha")
                return item["active_site"] as? String == active && item["epoch"] as? Int == epoch
                    && shownEpoch == Double(epoch) && shownActive == (name == active ? 1 : 0)
            }
        }
        let holder = live[active]!
        try holder.wait("\(active) to hold the lease (\(step))", timeout: 30) {
            let shown = try status(holder)["lease_remaining_seconds"] as? Double ?? 0
            let metric = try holder.metric("tandem_lease_remaining_seconds", "tenant", "alpha") ?? 0
            return shown > 0 && metric > 0
        }
        for (name, site) in live where name != active {
            // A site that has just started counts down until it first hears the active site.
            try site.wait("\(name) to hear \(active) and count down to nothing (\(step))", timeout: 10) {
                try status(site)["takeover_in_seconds"] == nil
            }
            let item = try status(site)
            #expect(item["lease_remaining_seconds"] == nil, "\(step), \(name): \(item)", sourceLocation: sourceLocation)
            #expect(try site.metric("tandem_lease_remaining_seconds", "tenant", "alpha") == 0, "\(step), \(name)",
                    sourceLocation: sourceLocation)
        }
    }

    /// Every `tandem_…` name README documents is on the site's page; at the remote site, all
    /// but the near sites' own (twin, remote shipping, drills) and the objectives its policy
    /// does not set.
    func expectDocumentedMetrics(at site: DaemonProcess, near: Bool, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let documented = Set(readme.matches(of: /tandem_[a-z_]+[a-z]/).map { String($0.output) })
        #expect(documented.count > 40, "README's metric list was not found")
        let page = try site.metricsPage()
        let present = Set(page.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap {
            $0.split(whereSeparator: { $0 == "{" || $0 == " " }).first.map(String.init)
        })
        let nearOnly = ["tandem_twin_pending", "tandem_twin_in_sync", "tandem_remote_", "tandem_drill_", "tandem_backup_rpo_objective",
                        "tandem_quota_soft", "tandem_quota_limit", "tandem_quota_used_ratio"]
        let expected = documented.filter { name in near || !nearOnly.contains { name.hasPrefix($0) } }
        #expect(expected.subtracting(present).sorted() == [], "\(site.root): documented but not on the first page",
                sourceLocation: sourceLocation)
    }
}
