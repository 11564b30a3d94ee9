import Foundation
import Logging
import TandemCodecs
import TandemCore
import TandemStore

/// The remote site's side of shipping, and the twin's side of the mirror: it stores what a
/// near site sends into its own repository without any tenant key.
///
/// - A pack is stored only if its bytes hash to its name (SHA-256); a manifest only if its
///   bytes hash to its snapshot ID. A tenant's settings and key slots are stored once; a
///   different version of an existing one is refused (a compromised near site cannot
///   replace them). Nothing is ever overwritten or deleted on request.
/// - `complete` records a snapshot as held here (`tenants/T/complete/ID`) only when its
///   manifest and every pack it names are present, each having been verified on arrival.
/// - At the remote site (`mirror` false) it only ever adds; its own retention removes.
/// - At a twin (`mirror` true) it also follows the active site's deletions: `drop_snapshots`
///   removes forgotten snapshots, `complete` may restate a snapshot's packs after a repack, and
///   `drop_packs` deletes only packs that no snapshot held here needs (and nothing at all while
///   any manifest here lacks a complete record, such as one the twin wrote while it was active).
public actor RemoteReceiver {
    /// The remote site's own retention for a tenant (from its policy's `retention.sites` for
    /// this site, usually longer than the near sites'), or nil to keep everything.
    public typealias RetentionLookup = @Sendable (String) async -> (policy: RetentionPolicy, timeZone: TimeZone)?

    let backend: any Backend
    let retention: RetentionLookup
    var known: [String: Set<String>] = [:]
    /// Complete records per tenant, read once: this actor is the only writer of its store.
    private var records: [String: [String: CompleteRecord]] = [:]
    /// SHA-256 of objects already stored or compared here, so a resent one costs no I/O.
    private var objectDigests: [String: String] = [:]
    private var tally = Statistics()
    /// Bytes of each tenant's packs here, once ``storedBytes(_:)`` has summed them; kept
    /// current by this actor's stores and deletions.
    var packBytes: [String: Int64] = [:]

    /// What near sites have sent since this receiver started.
    public struct Statistics: Sendable, Equatable {
        /// Packs stored here for the first time.
        public var packsStored = 0
        /// Packs sent again although already held (after an interrupted round, say).
        public var packsAlreadyHeld = 0
        /// Bytes of the packs stored for the first time.
        public var packBytesStored: Int64 = 0
    }

    public func statistics() -> Statistics { tally }

    let logger: Logger?
    /// Whether this receiver is a twin's, following the active site's deletions.
    let mirror: Bool

    public init(backend: any Backend, retention: @escaping RetentionLookup = { _ in nil }, mirror: Bool = false, logger: Logger? = nil) {
        self.backend = backend
        self.retention = retention
        self.mirror = mirror
        self.logger = logger
    }

    /// Answers a request; the bytes are the response's body (a pack for `getPack`, an object
    /// for `getObject`). The lease operations are not this receiver's: they are refused.
    public func respond(peer: String, request: LinkRequest, body: ArraySlice<UInt8>) async -> (LinkResponse, [UInt8]) {
        let tenant = request.tenant
        do {
            switch request.call {
            case .lack(let asked):
                let have = try await packs(tenant)
                return (LinkResponse(id: request.id, .missing(asked.filter { !have.contains($0) })), [])
            case .putPack(let name):
                try await putPack(tenant: tenant, name: name, body: body)
            case .putObject(let path):
                try await putObject(tenant: tenant, path: path, body: body)
            case .complete(let completion):
                try await complete(tenant: tenant, completion)
                try await applyOwnRetention(tenant)
            case .completed:
                // With the newest snapshot's packs, so a drill can fetch exactly what it needs.
                let records = try await completeRecords(tenant)
                var times: [String: Date] = [:]
                for record in records { times[record.snapshot] = record.time }
                let newest = records.max { $0.time < $1.time }
                return (LinkResponse(id: request.id, .completed(CompletedSnapshots(times: times, newestPacks: newest?.packNames))), [])
            case .listPacks:
                return (LinkResponse(id: request.id, .packs(try await packs(tenant).sorted())), [])
            case .getPack(let name):
                return (LinkResponse(id: request.id, .done), try await backend.read(TenantLayout(tenant).pack(name)))
            case .getObject(let path):
                return (LinkResponse(id: request.id, .done), try await backend.read(TenantLayout(tenant).object(path)))
            case .dropSnapshots(let ids):
                try refuseUnlessMirror(request.operation)
                try await deleting(tenant) { try await dropSnapshots(tenant: tenant, ids) }
            case .dropPacks(let names):
                try refuseUnlessMirror(request.operation)
                return (LinkResponse(id: request.id, .packs(try await deleting(tenant) { try await dropPacks(tenant: tenant, names) })), [])
            case .lease, .witness, .release, .handover, .outdate, .clearOutdated:
                return (LinkResponse.refused(id: request.id, "\(request.operation.rawValue) is not answered by a repository"), [])
            }
            return (LinkResponse(id: request.id, .done), [])
        } catch {
            return (LinkResponse.refused(id: request.id, "\(error)"), [])
        }
    }

    /// ``respond(peer:request:body:)`` without a response body (every operation but the reads).
    public func handle(peer: String, request: LinkRequest, body: [UInt8]) async -> LinkResponse {
        await respond(peer: peer, request: request, body: body[...]).0
    }

    private func refuseUnlessMirror(_ operation: LinkOperation) throws {
        guard mirror else {
            throw ReceiveError.appendOnly("the remote site never deletes on a near site's request (\(operation.rawValue)); its own retention decides")
        }
    }

    /// Applies this site's own retention for `tenant` (the remote's, after each snapshot arrives).
    private func applyOwnRetention(_ tenant: String) async throws {
        guard let rules = await retention(tenant) else { return }
        let report: RetentionReport
        do {
            report = try await deleting(tenant) { try await applyRetention(tenant: tenant, policy: rules.policy, timeZone: rules.timeZone, now: Date()) }
        } catch ReceiveError.busy {
            logger?.notice("remote retention deferred: the tenant is being read here", metadata: ["tenant": "\(tenant)"])
            return
        }
        if !report.removed.isEmpty || report.packsHeldBack || !report.locked.isEmpty {
            logger?.notice("remote retention applied", metadata: [
                "tenant": "\(tenant)", "removed": "\(report.removed.count)", "packs_deleted": "\(report.packsDeleted)",
                "locked": "\(report.locked.count)",
                "packs_held_back": "\(report.packsHeldBack ? "yes: a listed manifest has no kept record" : "no")"])
        }
    }

    private func packs(_ tenant: String) async throws -> Set<String> {
        if let cached = known[tenant] { return cached }
        let names = Set(try await backend.list(TenantLayout(tenant).packs).compactMap { $0.split(separator: "/").last.map(String.init) }
            .filter(LinkNames.isHash))
        known[tenant] = names
        return names
    }

    private func putPack(tenant: String, name: String, body: ArraySlice<UInt8>) async throws {
        guard Hex.encode(body.withUnsafeBytes { Hasher256.hash(.sha256, $0) }) == name else {
            throw ReceiveError.mismatch("pack \(name.prefix(12)) of tenant \(tenant): its bytes do not hash to its name (altered or truncated in transit)")
        }
        let path = TenantLayout(tenant).pack(name)
        do {
            // Read again only by a drill, a repair or a takeover: not worth the page cache.
            try await backend.writeUncached(path, body, overwrite: false)
            tally.packsStored += 1
            tally.packBytesStored += Int64(body.count)
            packBytes[tenant]? += Int64(body.count)
        } catch BackendError.alreadyExists {
            tally.packsAlreadyHeld += 1
        }
        _ = try await packs(tenant)
        known[tenant, default: []].insert(name)
    }

    private func putObject(tenant: String, path: String, body slice: ArraySlice<UInt8>) async throws {
        let body = Array(slice)
        if path.hasPrefix("snapshots/") {
            let id = String(path.dropFirst("snapshots/".count))
            guard Hex.encode(Hasher256.hash(.sha256, body)) == id else {
                throw ReceiveError.mismatch("manifest \(id.prefix(12)) of tenant \(tenant): its bytes do not hash to its ID")
            }
        }
        guard body.count <= 16 << 20 else { throw ReceiveError.mismatch("object \(path) of \(body.count) bytes is too large") }
        let full = TenantLayout(tenant).object(path)
        let digest = Hex.encode(Hasher256.hash(.sha256, body))
        if let held = objectDigests[full] {
            guard held == digest else {
                throw ReceiveError.appendOnly("\(full) exists with different contents; the remote site never replaces an object")
            }
            return
        }
        do {
            try await backend.write(full, body, overwrite: false)
        } catch BackendError.alreadyExists {
            guard try await backend.read(full) == body else {
                throw ReceiveError.appendOnly("\(full) exists with different contents; the remote site never replaces an object")
            }
        }
        objectDigests[full] = digest
    }

    private func complete(tenant: String, _ completion: SnapshotCompletion) async throws {
        let (snapshot, time, needed, source) = (completion.snapshot, completion.time ?? Date(), completion.packs, completion.source)
        guard try await backend.exists(TenantLayout(tenant).snapshot(snapshot)) else {
            throw ReceiveError.incomplete("snapshot \(snapshot.prefix(12)) of \(tenant): its manifest has not arrived")
        }
        let have = try await packs(tenant)
        let lacking = needed.filter { !have.contains($0) }
        guard lacking.isEmpty else {
            throw ReceiveError.incomplete("snapshot \(snapshot.prefix(12)) of \(tenant): \(lacking.count) pack(s) not here yet")
        }
        let record = Array(try ControlJSON.encoder().encode(CompleteRecord(snapshot: snapshot, time: time, packs: needed.count,
                                                                           source: source, packNames: needed)))
        // A twin restates the record: after a repack at the active site the snapshot's data
        // lives in other packs. The remote keeps the first record.
        do { try await backend.write(TenantLayout(tenant).completeRecord(snapshot), record, overwrite: mirror) } catch BackendError.alreadyExists {}
        if records[tenant] != nil {
            records[tenant]?[snapshot] = CompleteRecord(snapshot: snapshot, time: time, packs: needed.count, source: source, packNames: needed)
        }
    }

    private func completeRecords(_ tenant: String) async throws -> [CompleteRecord] {
        if let cached = records[tenant] { return Array(cached.values) }
        var out: [String: CompleteRecord] = [:]
        for path in try await backend.list(TenantLayout(tenant).completeRecords) {
            guard let record = try? ControlJSON.decoder().decode(CompleteRecord.self, from: Data(try await backend.read(path))) else { continue }
            out[record.snapshot] = record
        }
        records[tenant] = out
        return Array(out.values)
    }

    /// Forgets what is cached about `tenant`: another writer (this site's own repository, while
    /// the tenant was active here) may have changed its folder.
    public func invalidate(_ tenant: String) {
        known[tenant] = nil
        records[tenant] = nil
        packBytes[tenant] = nil
        objectDigests = objectDigests.filter { !$0.key.hasPrefix(TenantLayout(tenant).folder + "/") }
    }

    /// The active site forgot these snapshots: the record goes first (this site never claims
    /// a snapshot it cannot restore), then the manifest. Snapshots not here are no error.
    private func dropSnapshots(tenant: String, _ ids: [String]) async throws {
        for id in ids {
            try await backend.delete(TenantLayout(tenant).completeRecord(id))
            records[tenant]?[id] = nil
            try await backend.delete(TenantLayout(tenant).snapshot(id))
            objectDigests[TenantLayout(tenant).snapshot(id)] = nil
        }
        if !ids.isEmpty {
            logger?.notice("the active site's forgotten snapshots removed here", metadata: ["tenant": "\(tenant)", "snapshots": "\(ids.count)"])
        }
    }

    /// The active site pruned these packs: each is deleted unless a snapshot held here needs
    /// it. Returns the packs kept. Every manifest listed here must have a complete record with
    /// its packs, or nothing is deleted.
    private func dropPacks(tenant: String, _ names: [String]) async throws -> [String] {
        let records = try await completeRecords(tenant)
        let recorded = Dictionary(records.map { ($0.snapshot, $0) }, uniquingKeysWith: { first, _ in first })
        let manifests = try await backend.list(TenantLayout(tenant).snapshots).compactMap { $0.split(separator: "/").last.map(String.init) }
        guard manifests.allSatisfy({ recorded[$0] != nil }), records.allSatisfy({ $0.packNames != nil }) else {
            logger?.warning("packs the active site pruned are kept: a manifest here has no complete record with its packs",
                            metadata: ["tenant": "\(tenant)", "packs": "\(names.count)"])
            return names
        }
        let needed = Set(records.flatMap { $0.packNames ?? [] })
        var kept: [String] = []
        var deleted = 0
        for name in names {
            if needed.contains(name) {
                kept.append(name)
                continue
            }
            try await deletePack(tenant: tenant, name)
            deleted += 1
        }
        logger?.notice("the active site's pruned packs removed here", metadata: ["tenant": "\(tenant)", "deleted": "\(deleted)", "kept": "\(kept.count)"])
        return kept
    }

    /// What the remote's own retention did for one tenant.
    public struct RetentionReport: Sendable, Equatable {
        public var removed: [String] = []
        public var packsDeleted = 0
        /// Objects the store would not delete (object lock): kept until it allows.
        public var locked: [String] = []
        /// No pack was deleted because the listings of manifests and complete records disagree.
        public var packsHeldBack = false
    }

    /// Applies this site's retention to the snapshots complete here, per source, without any
    /// key: complete records carry each snapshot's time, source and packs. A removed snapshot's
    /// manifest and record go; then the packs only removed snapshots used. Packs of snapshots
    /// still arriving are safe: `complete` re-checks every pack, and this runs on the same actor.
    /// If any kept snapshot's packs are unknown (shipped before packs were recorded), no pack
    /// is deleted.
    public func applyRetention(tenant: String, policy: RetentionPolicy, timeZone: TimeZone, now: Date) async throws -> RetentionReport {
        var report = RetentionReport()
        let records = try await completeRecords(tenant)
        var removed: [CompleteRecord] = []
        var kept: [CompleteRecord] = []
        for (_, group) in Dictionary(grouping: records, by: { $0.source ?? "-" }) {
            let byID = Dictionary(uniqueKeysWithValues: group.map { ($0.snapshot, $0) })
            for decision in Retention.decide(group.map { RetentionCandidate(id: $0.snapshot, time: $0.time) }, policy: policy,
                                             timeZone: timeZone, now: now) {
                if decision.keep { kept.append(byID[decision.id]!) } else { removed.append(byID[decision.id]!) }
            }
        }
        for record in removed {
            do {
                try await backend.delete(TenantLayout(tenant).snapshot(record.snapshot))
                objectDigests[TenantLayout(tenant).snapshot(record.snapshot)] = nil
                try await backend.delete(TenantLayout(tenant).completeRecord(record.snapshot))
                self.records[tenant]?[record.snapshot] = nil
                report.removed.append(record.snapshot)
            } catch {
                report.locked.append("snapshot \(record.snapshot)")
                kept.append(record)
            }
        }
        guard !report.removed.isEmpty, kept.allSatisfy({ $0.packNames != nil }) else { return report }
        // Never delete on the word of one listing: every manifest the store lists must belong
        // to a kept snapshot whose packs are known. A manifest without its record (a partial
        // or lagging listing, a snapshot still arriving) keeps every pack.
        let keptIDs = Set(kept.map(\.snapshot))
        let manifests = try await backend.list(TenantLayout(tenant).snapshots).compactMap { $0.split(separator: "/").last.map(String.init) }
        guard manifests.allSatisfy(keptIDs.contains) else {
            report.packsHeldBack = true
            return report
        }
        let live = Set(kept.flatMap { $0.packNames ?? [] })
        let candidates = Set(removed.filter { report.removed.contains($0.snapshot) }.flatMap { $0.packNames ?? [] }).subtracting(live)
        for name in candidates.sorted() {
            do {
                try await deletePack(tenant: tenant, name)
                report.packsDeleted += 1
            } catch {
                report.locked.append("pack \(name)")
            }
        }
        return report
    }
}
