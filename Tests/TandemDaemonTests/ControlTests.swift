import Foundation
import Logging
import NIOHTTP1
import Testing
import TandemCore
@testable import TandemDaemon
import TandemPolicy

/// The control API's routing and authorization, in process (the real socket is covered by
/// the end-to-end tests).
@Suite(.serialized) struct ControlTests {
    func request(_ method: HTTPMethod, _ path: String, uid: UInt32, body: String = "") -> HTTPRequest {
        let (p, q) = HTTPServer.split(path)
        return HTTPRequest(method: method, path: p, query: q, body: Array(body.utf8), peer: PeerCredentials(pid: 1, uid: uid, gid: uid))
    }

    func twoTenants() throws -> SiteFixture {
        let fixture = try SiteFixture()
        try fixture.writeBasicPolicy(tenant: "alpha")
        try fixture.writePolicy("beta", """
        tenant: beta
        access: {uids: [5353]}
        key: {key_file: \(fixture.keyFile)}
        sources:
          - {name: docs, directory: \(fixture.data)/docs}
        """)
        return fixture
    }

    @Test func aTenantUidSeesOnlyItsTenantAndIsRefusedTheOther() async throws {
        let fixture = try twoTenants()
        try await RunningDaemon.with(fixture, at: utcDate("2026-05-01T00:00:00Z")) { running in
            let router = ControlRouter(daemon: running.daemon, logger: Logger(label: "t"),
                                       exports: ExportService(controlSocket: "/nonexistent/control.sock", daemon: running.daemon, logger: Logger(label: "t")),
                                       metricsAddress: { nil })
            let status = await router.handle(request(.GET, "/v1/status", uid: 4242))
            #expect(status.status == .ok)
            let decoded = try ControlJSON.decoder().decode(StatusResponse.self, from: Data(status.body))
            #expect(decoded.tenants.map(\.name) == ["alpha"] && decoded.caller == "tenant")
            for (method, path) in [(HTTPMethod.GET, "/v1/tenants/beta/snapshots"), (.POST, "/v1/tenants/beta/backup"),
                                   (.GET, "/v1/tenants/beta/policy"), (.POST, "/v1/tenants/beta/prune"),
                                   (.GET, "/v1/audit"), (.POST, "/v1/reload")] {
                let answer = await router.handle(request(method, path, uid: 4242))
                #expect(answer.status == .forbidden, "\(method) \(path)")
                let error = try ControlJSON.decoder().decode(ErrorResponse.self, from: Data(answer.body))
                #expect(error.error == "forbidden")
            }
            #expect(await router.handle(request(.GET, "/v1/tenants/alpha/snapshots", uid: 4242)).status == .ok)
            // A uid known to nobody is refused everything.
            #expect(await router.handle(request(.GET, "/v1/status", uid: 777)).status == .forbidden)
            // Root is an operator and sees both.
            let all = try ControlJSON.decoder().decode(StatusResponse.self, from: Data(await router.handle(request(.GET, "/v1/status", uid: 0)).body))
            #expect(all.tenants.map(\.name) == ["alpha", "beta"])
            // The refusal is in the audit log.
            let audit = try AuditLog.read(path: await running.daemon.audit.path).records
            #expect(audit.contains { $0.actor.hasPrefix("uid:4242") && $0.tenant == "beta" && $0.result.hasPrefix("refused") })
        }
    }

    @Test func badRequestsGetClearErrorsAndChangeNothing() async throws {
        let fixture = try twoTenants()
        try await RunningDaemon.with(fixture, at: utcDate("2026-05-01T00:00:00Z")) { running in
            let router = ControlRouter(daemon: running.daemon, logger: Logger(label: "t"),
                                       exports: ExportService(controlSocket: "/nonexistent/control.sock", daemon: running.daemon, logger: Logger(label: "t")),
                                       metricsAddress: { nil })
            let cases: [(HTTPMethod, String, String, HTTPResponseStatus, String)] = [
                (.POST, "/v1/tenants/alpha/backup", "{not json", .badRequest, "not valid"),
                (.POST, "/v1/tenants/alpha/backup", #"{"source": 7}"#, .badRequest, "field 'source' has the wrong type"),
                (.POST, "/v1/tenants/alpha/restore", #"{"target": "/tmp/x"}"#, .badRequest, "missing field 'snapshot'"),
                (.POST, "/v1/tenants/alpha/backup", #"{"source": "nope"}"#, .notFound, "no source 'nope'"),
                (.GET, "/v1/tenants/nobody/snapshots", "", .notFound, "no tenant 'nobody'"),
                (.GET, "/v1/bogus", "", .notFound, "no such endpoint"),
                (.GET, "/v1/tenants/alpha/simulate?days=0", "", .badRequest, "days must be"),
            ]
            for (method, path, body, status, message) in cases {
                let answer = await router.handle(request(method, path, uid: 0, body: body))
                #expect(answer.status == status, "\(path) \(body)")
                let text = String(decoding: answer.body, as: UTF8.self)
                #expect(text.contains(message), "\(path): \(text)")
            }
            #expect(await running.daemon.jobs().isEmpty)
        }
    }

    @Test func reloadAcceptsAValidConfigAndRefusesAnInvalidOne() async throws {
        let fixture = try twoTenants()
        try await RunningDaemon.with(fixture, at: utcDate("2026-05-01T00:00:00Z")) { running in
            try fixture.writePolicy("gamma", """
            tenant: gamma
            key: {key_file: \(fixture.keyFile)}
            sources:
              - {name: docs, directory: \(fixture.data)/docs}
            """)
            if case .failure(let error) = await running.daemon.reload() { Issue.record("valid reload refused: \(error)") }
            #expect(await running.daemon.policies.tenants.map(\.tenant) == ["alpha", "beta", "gamma"])
            try fixture.writePolicy("delta", "tenant: delta\nsources: [oops\n")
            guard case .failure(let error) = await running.daemon.reload() else {
                Issue.record("invalid reload accepted")
                return
            }
            #expect(error.description.contains("delta.yaml"))
            // The running configuration is kept, and work goes on.
            #expect(await running.daemon.policies.tenants.map(\.tenant) == ["alpha", "beta", "gamma"])
            let jobs = try await running.daemon.backupNow(tenant: "gamma", source: nil, caller: operatorCaller)
            await running.daemon.waitUntilIdle()
            #expect(await running.daemon.job(jobs[0].id)?.state == .succeeded)
            let audit = try AuditLog.read(path: await running.daemon.audit.path).records
            #expect(audit.filter { $0.action == "reload" }.map { $0.result.hasPrefix("refused") } == [false, true])
            #expect(AuditChain.verify(audit) == nil)
        }
    }

    @Test func simulateShowsRunsAndRetentionWithReasons() async throws {
        let fixture = try SiteFixture()
        try fixture.writeBasicPolicy(extra: "retention: {keep_daily: 3}")
        try await RunningDaemon.with(fixture, at: utcDate("2026-05-01T00:00:00Z")) { running in
            await running.daemon.fireDueSchedules()
            let report = try await running.daemon.simulate(tenant: "alpha", days: 10)
            #expect(report.runs.count == 10)
            #expect(report.retention.filter(\.keep).count == 3)
            #expect(report.retention.last?.reasons.contains("daily snapshot") == true)
            let json = String(decoding: try ControlJSON.encoder().encode(report), as: UTF8.self)
            for key in ["\"runs\"", "\"retention\"", "\"snapshot_time\"", "\"keep\"", "\"reasons\"", "\"source\"", "\"time\""] {
                #expect(json.contains(key))
            }
        }
    }
}
