import Foundation
import Logging
import NIOHTTP1
import TandemCore
import TandemStore

/// The control API: routes requests on the control socket to the daemon, after deciding the
/// caller's role from its peer credentials. Every answer is JSON; every error carries an
/// ``ErrorResponse`` with a stable code.
///
/// | Method | Path | Who | Body / query | Answer |
/// |---|---|---|---|---|
/// | GET | /v1/status | any known caller | | ``StatusResponse`` |
/// | GET | /v1/jobs, /v1/jobs/ID | any known caller | | ``JobStatus`` |
/// | POST | /v1/tenants/T/backup | T or operator | ``BackupRequest`` | ``JobsResponse`` |
/// | GET | /v1/tenants/T/snapshots | T or operator | | ``SnapshotsResponse`` |
/// | POST | /v1/tenants/T/restore | T or operator | ``RestoreRequest`` | restore result |
/// | POST | /v1/tenants/T/check | T or operator | ``CheckRequest`` | check report |
/// | POST | /v1/tenants/T/prune | T or operator | | prune report |
/// | POST | /v1/tenants/T/repair | T or operator | | ``RepairReport`` |
/// | POST | /v1/tenants/T/failover | operator | ``FailoverRequest`` | ``FailoverReport`` |
/// | POST | /v1/tenants/T/drill | T or operator | ``DrillRequest`` | ``DrillReport`` |
/// | GET | /v1/tenants/T/policy | T or operator | | ``PolicyDocument`` |
/// | GET | /v1/tenants/T/simulate | T or operator | `days=N` | ``SimulationReport`` |
/// | POST | /v1/tenants/T/exports | T or operator | ``ExportRequest`` (nbd or mount) | ``ExportInfo``; served while the connection stays open |
/// | GET | /v1/tenants/T/exports | T or operator | | [``ExportInfo``] |
/// | POST | /v1/reload | operator | | status |
/// | GET | /v1/audit | operator | `limit=N` | audit records |
/// | GET | /v1/audit/verify | operator | | ``AuditVerifyResponse`` |
public struct ControlRouter: Sendable {
    let daemon: Daemon
    let logger: Logger
    let metricsAddress: @Sendable () async -> String?
    /// Snapshots served over NBD; its ``ExportService/run()`` belongs to whoever runs the server.
    let exports: ExportService

    init(daemon: Daemon, logger: Logger, exports: ExportService, metricsAddress: @escaping @Sendable () async -> String?) {
        self.daemon = daemon
        self.logger = logger
        self.exports = exports
        self.metricsAddress = metricsAddress
    }

    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        guard let peer = request.peer else { return Self.error(.forbidden, .forbidden, "no peer credentials") }
        let caller = Caller.resolve(peer: peer, policies: await daemon.policies)
        guard caller.role != .nobody else {
            logger.warning("control request refused: uid maps to no tenant and is not an operator",
                           metadata: ["uid": "\(peer.uid)", "path": "\(request.path)"])
            return Self.error(.forbidden, .forbidden, "uid \(peer.uid) is neither an operator nor mapped to a tenant on this site")
        }
        do {
            return try await route(request, caller: caller)
        } catch let error as DaemonError {
            return Self.error(Self.status(for: error), error.code, error.description)
        } catch let error as DecodingError {
            return Self.error(.badRequest, .badRequest, "request body is not valid: \(Self.describe(error))")
        } catch BackendError.locked(let path) {
            return Self.error(.conflict, .busy, "\(path): the tenant's lock is held (a job of the tenant, an export or mount of it, or another tandem process); try again when it ends")
        } catch let error as RepositoryError {
            switch error {
            case .snapshotNotFound, .ambiguousSnapshot: return Self.error(.notFound, .notFound, error.description)
            case .targetExists, .targetNotAFile, .targetUnwritable, .notAStream, .notAnImage, .notATree: return Self.error(.conflict, .conflict, error.description)
            default: return Self.error(.internalServerError, .failed, error.description)
            }
        } catch {
            return Self.error(.internalServerError, .failed, Daemon.describe(error))
        }
    }

    private func route(_ request: HTTPRequest, caller: Caller) async throws -> HTTPResponse {
        let parts = request.path.split(separator: "/").map(String.init)
        guard parts.first == "v1" else { throw DaemonError.notFound("no such endpoint \(request.path)") }
        switch (request.method, Array(parts.dropFirst())) {
        case (.GET, ["status"]):
            return try Self.json(await status(for: caller))
        case (.GET, ["jobs"]):
            let jobs = await daemon.jobs().filter { caller.may(actOn: $0.tenant) }
            return try Self.json(JobsResponse(jobs: jobs))
        case (.GET, let path) where path.count == 2 && path[0] == "jobs":
            guard let job = await daemon.job(path[1]), caller.may(actOn: job.tenant) else {
                throw DaemonError.notFound("no job \(path[1])")
            }
            return try Self.json(job)
        case (.POST, ["reload"]):
            try requireOperator(caller)
            switch await daemon.reload(actor: caller.actor) {
            case .success: return try Self.json(await status(for: caller))
            case .failure(let error): throw error
            }
        case (.GET, ["audit"]):
            try requireOperator(caller)
            let limit = request.query["limit"].flatMap(Int.init) ?? 100
            let contents = try AuditLog.read(path: daemon.audit.path)
            return try Self.json(contents.records.suffix(max(0, limit)))
        case (.GET, ["audit", "verify"]):
            try requireOperator(caller)
            let contents = try AuditLog.read(path: daemon.audit.path)
            let broken = AuditChain.verify(contents.records)
            return try Self.json(AuditVerifyResponse(records: contents.records.count, intact: broken == nil && contents.unreadableLines.isEmpty,
                                                     breakAt: broken?.sequence, reason: broken?.reason,
                                                     unreadableLines: contents.unreadableLines))
        case (let method, let path) where path.count == 3 && path[0] == "tenants":
            let tenant = path[1]
            guard caller.may(actOn: tenant) else {
                logger.warning("control request refused: tenant uid asked for another tenant",
                               metadata: ["uid": "\(caller.uid)", "tenant": "\(tenant)", "path": "\(request.path)"])
                // Named as the granted request would be in the audit log (an export is a `serve` or a `mount`).
                await daemon.record(actor: caller.actor, role: caller.roleName, action: auditAction(path[2], request), tenant: tenant,
                                    detail: request.path, result: "refused: not this caller's tenant")
                throw DaemonError.forbidden("uid \(caller.uid) may not act on tenant \(tenant)")
            }
            return try await tenantRoute(method, tenant: tenant, action: path[2], request: request, caller: caller)
        default:
            throw DaemonError.notFound("no such endpoint \(request.method) \(request.path)")
        }
    }

    private func tenantRoute(_ method: HTTPMethod, tenant: String, action: String, request: HTTPRequest,
                             caller: Caller) async throws -> HTTPResponse {
        switch (method, action) {
        case (.POST, "backup"):
            let body = try decode(BackupRequest.self, request, default: BackupRequest())
            return try Self.json(JobsResponse(jobs: try await daemon.backupNow(tenant: tenant, source: body.source, caller: caller)),
                                 status: .accepted)
        case (.GET, "snapshots"):
            return try Self.json(try await daemon.snapshots(tenant: tenant))
        case (.POST, "restore"):
            let body = try decode(RestoreRequest.self, request, default: nil)
            return try Self.json(try await daemon.restore(tenant: tenant, request: body, caller: caller))
        case (.POST, "check"):
            let body = try decode(CheckRequest.self, request, default: CheckRequest())
            return try Self.json(try await daemon.check(tenant: tenant, readData: body.readData, caller: caller))
        case (.POST, "prune"):
            return try Self.json(try await daemon.prune(tenant: tenant, caller: caller))
        case (.POST, "repair"):
            return try Self.json(try await daemon.repair(tenant: tenant, caller: caller))
        case (.POST, "failover"):
            try requireOperator(caller)
            let body = try decode(FailoverRequest.self, request, default: FailoverRequest(to: nil))
            return try Self.json(try await daemon.failover(tenant: tenant, request: body, caller: caller))
        case (.POST, "drill"):
            let body = try decode(DrillRequest.self, request, default: DrillRequest(site: "remote"))
            return try Self.json(try await daemon.drill(tenant: tenant, request: body, caller: caller))
        case (.POST, "exports"):
            let body = try decode(ExportRequest.self, request, default: nil)
            return try Self.json(try await exports.start(tenant: tenant, request: body, caller: caller, gid: request.peer?.gid ?? caller.uid,
                                                         closed: request.connectionClosed),
                                 status: .created)
        case (.GET, "exports"):
            _ = try await daemon.policy(tenant)
            return try Self.json(await exports.list(for: caller).filter { $0.tenant == tenant })
        case (.GET, "policy"):
            return try Self.json(try await daemon.policyText(tenant: tenant))
        case (.GET, "simulate"):
            let days = request.query["days"].flatMap(Int.init) ?? 7
            guard (1...3660).contains(days) else { throw DaemonError.badRequest("days must be 1-3660, got \(days)") }
            return try Self.json(try await daemon.simulate(tenant: tenant, days: days))
        default:
            throw DaemonError.notFound("no such endpoint \(method) \(request.path)")
        }
    }

    /// A tenant request's action as the audit log names it.
    private func auditAction(_ action: String, _ request: HTTPRequest) -> String {
        guard action == "exports" else { return action }
        let kind = (try? ControlJSON.decoder().decode(ExportRequest.self, from: Data(request.body)))?.kind ?? .nbd
        return ExportService.action(kind)
    }

    private func status(for caller: Caller) async -> StatusResponse {
        var response = await daemon.status(for: caller, metricsAddress: await metricsAddress())
        response.exports = await exports.list(for: caller)
        return response
    }

    private func requireOperator(_ caller: Caller) throws {
        guard caller.isOperator else { throw DaemonError.forbidden("only operators may do this; uid \(caller.uid) is a tenant user") }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ request: HTTPRequest, default fallback: T?) throws -> T {
        if request.body.isEmpty, let fallback { return fallback }
        guard !request.body.isEmpty else { throw DaemonError.badRequest("this request needs a JSON body") }
        return try ControlJSON.decoder().decode(T.self, from: Data(request.body))
    }

    static func json(_ value: some Encodable, status: HTTPResponseStatus = .ok) throws -> HTTPResponse {
        var body = Array(try ControlJSON.encoder(pretty: true).encode(value))
        body.append(0x0A)
        return HTTPResponse(status: status, body: body)
    }

    static func error(_ status: HTTPResponseStatus, _ code: ControlErrorCode, _ message: String) -> HTTPResponse {
        let encoded = try? ControlJSON.encoder(pretty: true).encode(ErrorResponse(code, message: message))
        let body: [UInt8] = encoded.map { [UInt8]($0) + [0x0A] } ?? []
        return HTTPResponse(status: status, body: body)
    }

    static func status(for error: DaemonError) -> HTTPResponseStatus {
        switch error {
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .badRequest, .config: .badRequest
        case .quotaExceeded: .init(statusCode: 507, reasonPhrase: "Insufficient Storage")
        case .busy, .refused: .conflict
        case .io: .internalServerError
        }
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): "missing field '\(key.stringValue.snakeCased)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            "field '\(context.codingPath.map(\.stringValue.snakeCased).joined(separator: "."))' has the wrong type"
        case .dataCorrupted(let context): context.debugDescription
        @unknown default: "\(error)"
        }
    }
}

extension String {
    var snakeCased: String {
        reduce(into: "") { out, c in
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
    }
}
