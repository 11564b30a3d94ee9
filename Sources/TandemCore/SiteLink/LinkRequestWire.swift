import Foundation

/// A request frame's header as it travels: one flat JSON object (snake_case), an `op` and the
/// fields that operation needs. This is the only place that maps ``LinkCall`` to and from it;
/// fields are only ever added, so older peers keep understanding newer ones.
struct LinkRequestWire: Codable {
    var id: UInt64
    var op: String
    var tenant: String
    var packs: [String]?
    var name: String?
    var path: String?
    var snapshot: String?
    var snapshotTime: Date?
    var source: String?
    var epoch: UInt64?
    var holder: String?
    var incarnation: UInt64?
    var sequence: UInt64?
    var successor: String?
    var snapshots: [String]?

    /// Most names a `lack`, `complete`, `drop_packs` or `drop_snapshots` may carry.
    static let maximumNames = 1_000_000

    init(_ request: LinkRequest) {
        id = request.id
        op = request.operation.rawValue
        tenant = request.tenant
        epoch = request.epoch
        switch request.call {
        case .lack(let packs), .dropPacks(let packs):
            self.packs = packs
        case .putPack(let name), .getPack(let name):
            self.name = name
        case .putObject(let path), .getObject(let path):
            self.path = path
        case .complete(let completion):
            snapshot = completion.snapshot
            snapshotTime = completion.time
            packs = completion.packs
            source = completion.source
        case .completed, .listPacks:
            break
        case .lease(let lease):
            epoch = lease.epoch.value
            holder = lease.holder.name
            incarnation = lease.id.incarnation
            sequence = lease.id.sequence
        case .witness(let asking, let known):
            holder = asking.name
            epoch = known?.value
        case .release(let release), .handover(let release):
            epoch = release.epoch.value
            holder = release.holder.name
            successor = release.successor.name
        case .outdate(let outdate), .clearOutdated(let outdate):
            epoch = outdate.epoch.value
            holder = outdate.holder.name
            successor = outdate.twin.name
        case .dropSnapshots(let ids):
            snapshots = ids
        }
    }

    /// The request these fields make, or why they make none. Names that could escape the
    /// tenant's folder, and fields the operation needs but lacks, are refused here, before any
    /// handler sees the request.
    func request() throws(LinkFrameError) -> LinkRequest {
        guard let operation = LinkOperation(rawValue: op) else { throw .malformedMessage("unknown op '\(op.prefix(64))'") }
        guard LinkNames.isTenant(tenant) else { throw .malformedMessage("bad tenant name") }
        for pack in packs ?? [] where !LinkNames.isHash(pack) { throw .malformedMessage("bad pack name") }
        guard (packs?.count ?? 0) <= Self.maximumNames else { throw .malformedMessage("too many packs") }
        for id in snapshots ?? [] where !LinkNames.isHash(id) { throw .malformedMessage("bad snapshot id") }
        guard (snapshots?.count ?? 0) <= Self.maximumNames else { throw .malformedMessage("too many snapshots") }
        if let name, !LinkNames.isHash(name) { throw .malformedMessage("bad pack name") }
        if let snapshot, !LinkNames.isHash(snapshot) { throw .malformedMessage("bad snapshot id") }
        if let path, !LinkNames.isTenantObject(path) { throw .malformedMessage("path '\(path.prefix(256))' is not a tenant object") }
        if let source, source.utf8.count > 4096 { throw .malformedMessage("source too long") }
        for site in [holder, successor].compactMap({ $0 }) where !LinkNames.isSite(site) { throw .malformedMessage("bad site name") }
        let call: LinkCall
        switch operation {
        case .lack: call = .lack(packs: try need(packs, "packs"))
        case .dropPacks: call = .dropPacks(try need(packs, "packs"))
        case .dropSnapshots: call = .dropSnapshots(try need(snapshots, "snapshots"))
        case .putPack: call = .putPack(name: try need(name, "name"))
        case .getPack: call = .getPack(name: try need(name, "name"))
        case .putObject: call = .putObject(path: try need(path, "path"))
        case .getObject: call = .getObject(path: try need(path, "path"))
        case .complete:
            guard let snapshot, let packs else { throw .malformedMessage("complete needs snapshot and packs") }
            call = .complete(SnapshotCompletion(snapshot: snapshot, time: snapshotTime, packs: packs, source: source))
        case .completed: call = .completed
        case .listPacks: call = .listPacks
        case .lease:
            guard let epoch, let holder, let incarnation, let sequence else {
                throw .malformedMessage("lease needs epoch, holder, incarnation and sequence")
            }
            call = .lease(LeaseRequest(holder: SiteID(holder), epoch: Epoch(epoch),
                                       id: LeaseRequestID(incarnation: incarnation, sequence: sequence)))
        case .witness:
            guard let holder else { throw .malformedMessage("witness needs holder (the site asking)") }
            call = .witness(asking: SiteID(holder), epoch: epoch.map(Epoch.init))
        case .release, .handover, .outdate, .clearOutdated:
            guard let epoch, let holder, let successor else { throw .malformedMessage("\(op) needs epoch, holder and successor") }
            switch operation {
            case .release: call = .release(LeaseRelease(holder: SiteID(holder), epoch: Epoch(epoch), successor: SiteID(successor)))
            case .handover: call = .handover(LeaseRelease(holder: SiteID(holder), epoch: Epoch(epoch), successor: SiteID(successor)))
            case .outdate: call = .outdate(OutdateRequest(holder: SiteID(holder), epoch: Epoch(epoch), twin: SiteID(successor)))
            default: call = .clearOutdated(OutdateRequest(holder: SiteID(holder), epoch: Epoch(epoch), twin: SiteID(successor)))
            }
        }
        // A write's epoch is the request's; the lease operations' epochs are in their payloads.
        return LinkRequest(call, tenant: tenant, epoch: operation.isPlacement ? nil : epoch, id: id)
    }

    private func need<T>(_ value: T?, _ field: String) throws(LinkFrameError) -> T {
        guard let value else { throw .malformedMessage("\(op) needs \(field)") }
        return value
    }
}
