import Foundation

/// Every operation one site may ask of another on a link, with its name on the wire.
public enum LinkOperation: String, Codable, Sendable, CaseIterable {
    case lack
    case putPack = "put_pack"
    case putObject = "put_object"
    case complete
    case completed
    case getPack = "get_pack"
    case listPacks = "list_packs"
    case getObject = "get_object"
    case lease
    case witness
    case release
    case handover
    case outdate
    case clearOutdated = "clear_outdated"
    case dropSnapshots = "drop_snapshots"
    case dropPacks = "drop_packs"

    /// Changes what the receiving site stores; each carries the tenant's epoch to a twin,
    /// whose ``EpochFence`` refuses a write older than the newest epoch it has seen.
    public var isWrite: Bool { [.putPack, .putObject, .complete, .dropSnapshots, .dropPacks].contains(self) }

    /// Deletions: only a twin takes them, from the tenant's active site; the remote site
    /// applies its own retention and refuses them.
    public var isDeletion: Bool { self == .dropSnapshots || self == .dropPacks }

    /// Answered by the site's lease coordinator (placement, takeover questions, outdated
    /// twins), not by its repository.
    public var isPlacement: Bool { [.lease, .witness, .release, .handover, .outdate, .clearOutdated].contains(self) }
}

/// What a site asks of another, with the payload each operation needs: the typed form of a
/// request frame's header. ``LinkRequest`` carries it with the tenant; `LinkRequestWire` is the
/// one place that maps it to and from the frame's JSON.
///
/// Shipping (near → remote) uses `lack`, `putPack`, `putObject` and `complete`; repair and
/// drills `listPacks`, `getPack`, `getObject` and `completed`. The twin mirror uses the same
/// writes, each tagged with the tenant's epoch, plus `dropSnapshots` and `dropPacks`, which
/// carry the active site's retention to the twin. The lease protocol uses the rest.
public enum LinkCall: Sendable, Equatable {
    /// Which of these packs does the receiver not hold?
    case lack(packs: [String])
    /// Store the frame's body, a pack named by its SHA-256.
    case putPack(name: String)
    /// Store the frame's body: the tenant's settings, a key slot or a manifest
    /// (`tenant.json`, `keys/SLOT`, `snapshots/ID`).
    case putObject(path: String)
    /// Every pack the snapshot needs is there: verify and record it.
    case complete(SnapshotCompletion)
    /// The snapshots complete at the receiver, with their times.
    case completed
    /// The pack, in the response's body.
    case getPack(name: String)
    /// Every pack held at the receiver.
    case listPacks
    /// A tenant object, in the response's body.
    case getObject(path: String)
    /// A lease request to a voter.
    case lease(LeaseRequest)
    /// The twin asks the witness whether it may take over from an active site gone silent
    /// (at the newest epoch the twin knows, if any).
    case witness(asking: SiteID, epoch: Epoch?)
    /// A planned switchover: the holder gives the lease up, to the voters.
    case release(LeaseRelease)
    /// A planned switchover: the holder offers the tenant to its successor.
    case handover(LeaseRelease)
    /// The active site asks the witness to record its twin as lacking acknowledged data.
    case outdate(OutdateRequest)
    /// The active site says its twin holds everything again.
    case clearOutdated(OutdateRequest)
    /// The active site forgot these snapshots (to a twin only).
    case dropSnapshots([String])
    /// The active site pruned these packs (to a twin only).
    case dropPacks([String])

    public var operation: LinkOperation {
        switch self {
        case .lack: .lack
        case .putPack: .putPack
        case .putObject: .putObject
        case .complete: .complete
        case .completed: .completed
        case .getPack: .getPack
        case .listPacks: .listPacks
        case .getObject: .getObject
        case .lease: .lease
        case .witness: .witness
        case .release: .release
        case .handover: .handover
        case .outdate: .outdate
        case .clearOutdated: .clearOutdated
        case .dropSnapshots: .dropSnapshots
        case .dropPacks: .dropPacks
        }
    }
}

/// A `complete` request's payload: the snapshot and every pack it needs.
public struct SnapshotCompletion: Sendable, Equatable {
    public var snapshot: String
    /// When the snapshot was taken (the receiver's retention orders by it).
    public var time: Date?
    public var packs: [String]
    /// What the snapshot is of (the remote's retention groups by it).
    public var source: String?

    public init(snapshot: String, time: Date?, packs: [String], source: String? = nil) {
        self.snapshot = snapshot
        self.time = time
        self.packs = packs
        self.source = source
    }
}

/// A request on a link: an operation and its payload for one tenant. Its JSON (the frame's
/// header) is the flat form `LinkRequestWire` defines; decoding refuses a request whose fields
/// do not make a well-formed call, with ``LinkFrameError/malformedMessage(_:)`` naming what is wrong.
public struct LinkRequest: Codable, Sendable, Equatable {
    /// Set by the connection that sends it; responses answer it.
    public var id: UInt64
    public var tenant: String
    /// The tenant's epoch at the sending site, on writes to a twin (``LinkOperation/isWrite``).
    /// The lease operations carry their epochs in their payloads.
    public var epoch: UInt64?
    public var call: LinkCall

    public var operation: LinkOperation { call.operation }

    public init(_ call: LinkCall, tenant: String, epoch: UInt64? = nil, id: UInt64 = 0) {
        self.id = id
        self.tenant = tenant
        self.epoch = epoch
        self.call = call
    }

    public init(from decoder: any Decoder) throws {
        self = try LinkRequestWire(from: decoder).request()
    }

    public func encode(to encoder: any Encoder) throws {
        try LinkRequestWire(self).encode(to: encoder)
    }
}
