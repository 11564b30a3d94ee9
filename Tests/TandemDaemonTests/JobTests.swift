import Foundation
import Testing
import TandemCore
@testable import TandemDaemon
import TandemPolicy
import TandemStore

/// Backups as policies describe them, each failure mode leaving no snapshot and the daemon running.
@Suite(.serialized) struct JobTests {
    let start = utcDate("2026-05-01T00:00:00Z")

    func runNow(_ running: RunningDaemon, tenant: String = "alpha", source: String? = nil) async throws -> [JobStatus] {
        let jobs = try await running.daemon.backupNow(tenant: tenant, source: source, caller: operatorCaller)
        await running.daemon.waitUntilIdle()
        var finished: [JobStatus] = []
        for job in jobs { if let status = await running.daemon.job(job.id) { finished.append(status) } }
        return finished
    }

    @Test func theHardQuotaRefusesNewBackupsBeforeTheyStart() async throws {
        let fixture = try SiteFixture()
        try fixture.writeBasicPolicy(extra: "quota: {soft: 1K, hard: 20K}")
        try await RunningDaemon.with(fixture, at: start) { running in
            let first = try await runNow(running)
            #expect(first.map(\.state) == [.succeeded])
            // The first snapshot already stores more than 20 KiB of packs? Make sure it does.
            let used = await running.daemon.status(for: operatorCaller, metricsAddress: nil).tenants[0].quotaUsedBytes
            try #require(used >= 20 << 10, "fixture data too small for the quota test: \(used)")
            try Data("changed".utf8).write(to: URL(fileURLWithPath: fixture.data + "/docs/f1.txt"))
            let second = try await runNow(running)
            #expect(second.map(\.state) == [.failed])
            #expect(second.first?.message?.contains("hard quota") == true)
            #expect(second.first?.message?.contains("refused before it started") == true)
            let n = try await count(running)
            #expect(n == 1)
        }
    }

    @Test func aFailingPreHookLeavesNoSnapshotAndPostHooksStillRun() async throws {
        let fixture = try SiteFixture()
        let marker = fixture.root + "/post-ran"
        try fixture.writePolicy("alpha", """
        tenant: alpha
        key: {key_file: \(fixture.keyFile)}
        sources:
          - name: docs
            directory: \(fixture.data)/docs
            pre: ["/bin/sh", "-c", "echo no LVM here >&2; exit 5"]
            post: "echo $TANDEM_RESULT > \(marker)"
        """)
        try await RunningDaemon.with(fixture, at: start) { running in
            let jobs = try await runNow(running)
            #expect(jobs.first?.state == .failed)
            #expect(jobs.first?.message?.contains("pre hook of source docs failed") == true)
            #expect(jobs.first?.message?.contains("exited with status 5: no LVM here") == true, "\(jobs.first?.message ?? "")")
            #expect((try? String(contentsOfFile: marker, encoding: .utf8)) == "failed\n")
            let n = try await count(running)
            #expect(n == 0)
        }
    }

    @Test func aHookPastItsTimeoutIsKilledWithItsChildren() async throws {
        let fixture = try SiteFixture()
        let pidFile = fixture.root + "/grandchild.pid"
        try fixture.writePolicy("alpha", """
        tenant: alpha
        key: {key_file: \(fixture.keyFile)}
        sources:
          - name: docs
            directory: \(fixture.data)/docs
            pre: "sleep 60 & echo $! > \(pidFile); wait"
            timeout: 1s
        """)
        try await RunningDaemon.with(fixture, at: start) { running in
            let began = Date()
            let jobs = try await runNow(running)
            #expect(Date().timeIntervalSince(began) < 15)
            #expect(jobs.first?.state == .failed)
            #expect(jobs.first?.message?.contains("did not finish within 1s and was killed") == true)
            // The hook's own child (sleep) died with the process group.
            let pid = Int32((try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines))!
            try await Task.sleep(for: .milliseconds(200))
            // Gone, or a zombie waiting for a reaper (a container's init may never reap it).
            let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?
                .split(separator: ")").last?.split(separator: " ").first
            #expect(state == nil || state == "Z", "grandchild \(pid) still running: \(state.map(String.init) ?? "-")")
            let n = try await count(running)
            #expect(n == 0)
        }
    }

    @Test func aCommandSourceThatFailsCommitsNothing() async throws {
        let fixture = try SiteFixture()
        try fixture.writePolicy("alpha", """
        tenant: alpha
        key: {key_file: \(fixture.keyFile)}
        sources:
          - name: dump
            command: "head -c 3000000 /dev/urandom; echo 'dump: connection lost' >&2; exit 3"
          - name: good-dump
            command: ["/bin/sh", "-c", "head -c 2000000 /dev/zero; echo done"]
        """)
        try await RunningDaemon.with(fixture, at: start) { running in
            let bad = try await runNow(running, source: "dump")
            #expect(bad.first?.state == .failed)
            #expect(bad.first?.message?.contains("exited with status 3: dump: connection lost") == true)
            var n = try await count(running)
            #expect(n == 0)
            let good = try await runNow(running, source: "good-dump")
            #expect(good.first?.state == .succeeded)
            n = try await count(running)
            #expect(n == 1)
            let snapshot = try await running.daemon.snapshots(tenant: "alpha").snapshots[0]
            #expect(snapshot.source == "command:good-dump" && snapshot.bytes == 2_000_005)
        }
    }

    @Test func aKeyCommandThatFailsIsReportedAndNothingIsCreated() async throws {
        let fixture = try SiteFixture()
        try fixture.writePolicy("alpha", """
        tenant: alpha
        key: {key_command: ["/bin/sh", "-c", "echo 'kms: permission denied' >&2; exit 77"]}
        sources:
          - {name: docs, directory: \(fixture.data)/docs}
        """)
        try fixture.writePolicy("beta", """
        tenant: beta
        key: {key_command: ["/bin/sh", "-c", "printf 0123456789abcdef0123456789abcdef-beta-key"]}
        sources:
          - {name: docs, directory: \(fixture.data)/docs}
        """)
        try await RunningDaemon.with(fixture, at: start) { running in
            let jobs = try await runNow(running)
            #expect(jobs.first?.state == .failed)
            #expect(jobs.first?.message?.contains("key_command") == true)
            #expect(jobs.first?.message?.contains("exited with status 77: kms: permission denied") == true)
            // The other tenant is unaffected, and its KMS-supplied key works.
            let beta = try await runNow(running, tenant: "beta")
            #expect(beta.first?.state == .succeeded)
        }
    }

    @Test func aMissingSourcePathFailsClearly() async throws {
        let fixture = try SiteFixture()
        try fixture.writePolicy("alpha", """
        tenant: alpha
        key: {key_file: \(fixture.keyFile)}
        sources:
          - {name: gone, directory: \(fixture.root)/no-such-dir}
          - {name: img, image: \(fixture.root)/no-such.img}
        """)
        try await RunningDaemon.with(fixture, at: start) { running in
            let jobs = try await runNow(running)
            #expect(jobs.map(\.state) == [.failed, .failed])
            #expect(jobs.allSatisfy { $0.message?.contains("no-such") == true })
        }
    }

    @Test func excludesAreHonoured() async throws {
        let fixture = try SiteFixture()
        try fixture.writeBasicPolicy()
        try await RunningDaemon.with(fixture, at: start) { running in
            _ = try await runNow(running)
            let snapshot = try await running.daemon.snapshots(tenant: "alpha").snapshots[0]
            let target = fixture.root + "/restored"
            _ = try await running.daemon.restore(tenant: "alpha", request: RestoreRequest(snapshot: snapshot.id, target: target),
                                                 caller: operatorCaller)
            #expect(FileManager.default.fileExists(atPath: target + "/sub/n.txt"))
            #expect(!FileManager.default.fileExists(atPath: target + "/sub/x.tmp"))
            #expect(FileManager.default.contents(atPath: target + "/f3.txt") == FileManager.default.contents(atPath: fixture.data + "/docs/f3.txt"))
        }
    }
}
