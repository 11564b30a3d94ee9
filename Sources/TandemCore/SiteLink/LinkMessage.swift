import Foundation

/// What travels in a site link frame's header. JSON, snake_case; fields are only added.
public enum LinkMessage: Sendable, Equatable {
    case hello(LinkHello)
    case welcome(LinkWelcome)
    case refuse(LinkRefusal)
    case heartbeat(LinkHeartbeat)
    case request(LinkRequest)
    case response(LinkResponse)

    public var kind: LinkFrame.Kind {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .refuse: .refuse
        case .heartbeat: .heartbeat
        case .request: .request
        case .response: .response
        }
    }

    /// The frame carrying this message and `body`.
    public func frame(body: [UInt8] = []) -> LinkFrame {
        let encoder = ControlJSON.encoder()
        let header: Data
        switch self {
        case .hello(let m): header = (try? encoder.encode(m)) ?? Data()
        case .welcome(let m): header = (try? encoder.encode(m)) ?? Data()
        case .refuse(let m): header = (try? encoder.encode(m)) ?? Data()
        case .heartbeat(let m): header = (try? encoder.encode(m)) ?? Data()
        case .request(let m): header = (try? encoder.encode(m)) ?? Data()
        case .response(let m): header = (try? encoder.encode(m)) ?? Data()
        }
        return LinkFrame(kind: kind, header: Array(header), body: body)
    }

    /// Decodes a frame's header; a header that is not the message its kind names is refused.
    public static func decode(_ frame: LinkFrame) throws(LinkFrameError) -> LinkMessage {
        let decoder = ControlJSON.decoder()
        let data = Data(frame.header)
        do {
            switch frame.kind {
            case .hello: return .hello(try decoder.decode(LinkHello.self, from: data))
            case .welcome: return .welcome(try decoder.decode(LinkWelcome.self, from: data))
            case .refuse: return .refuse(try decoder.decode(LinkRefusal.self, from: data))
            case .heartbeat: return .heartbeat(try decoder.decode(LinkHeartbeat.self, from: data))
            case .request:
                let request = try decoder.decode(LinkRequest.self, from: data)
                try request.validate()
                return .request(request)
            case .response: return .response(try decoder.decode(LinkResponse.self, from: data))
            }
        } catch let error as LinkFrameError {
            throw error
        } catch {
            throw .malformedMessage("\(frame.kind) header: \(error)")
        }
    }
}

/// The first message on a connection, from the side that connected.
public struct LinkHello: Codable, Sendable, Equatable {
    public var site: String
    public var role: String
    /// Protocol versions this site speaks (inclusive).
    public var protocolMin: Int
    public var protocolMax: Int
    public var features: [String]
    /// `control` (heartbeats) or `bulk` (packs and manifests).
    public var channel: String
    /// Heartbeat/lease timing as `interval_ms/failover_after/lease_ms/drift_ms`: near sites must agree.
    public var safety: String

    public init(site: String, role: String, protocolMin: Int, protocolMax: Int, features: [String], channel: String, safety: String) {
        self.site = site
        self.role = role
        self.protocolMin = protocolMin
        self.protocolMax = protocolMax
        self.features = features
        self.channel = channel
        self.safety = safety
    }
}

/// The answer to an acceptable hello.
public struct LinkWelcome: Codable, Sendable, Equatable {
    public var site: String
    public var protocolVersion: Int
    public var features: [String]

    public init(site: String, protocolVersion: Int, features: [String]) {
        self.site = site
        self.protocolVersion = protocolVersion
        self.features = features
    }
}

/// Why a hello (or anything later) was refused; the connection closes after it.
public struct LinkRefusal: Codable, Sendable, Equatable, Error, CustomStringConvertible {
    /// `version`, `site_name`, `safety_settings`, `role`, `protocol`.
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// A heartbeat on the control connection.
public struct LinkHeartbeat: Codable, Sendable, Equatable {
    public var site: String
    public var sequence: UInt64

    public init(site: String, sequence: UInt64) {
        self.site = site
        self.sequence = sequence
    }
}

/// A request on the bulk connection. Shipping (near → remote) uses: `lack` (which of these
/// packs do you not hold?), `put_pack` (body: the pack, named by its SHA-256), `put_object`
/// (body: a tenant's settings, a key slot or a manifest), and `complete` (every pack the
/// snapshot needs is there: verify and record it). Repair uses `list_packs` and `get_pack`
/// (the response's body is the pack; the asking site checks it hashes to its name). The twin
/// mirror uses the same operations, each write tagged with the tenant's epoch, plus
/// `drop_snapshots` and `drop_packs`, which carry the active site's retention to the twin.
public struct LinkRequest: Codable, Sendable, Equatable {
    public var id: UInt64
    public var op: String
    public var tenant: String
    public var packs: [String]?
    public var name: String?
    public var path: String?
    public var snapshot: String?
    public var snapshotTime: Date?
    /// For `complete`: what the snapshot is of (the remote's retention groups by it).
    public var source: String?
    /// The tenant's epoch at the sending site. Required on writes to a twin (the mirror): a
    /// write older than the newest epoch the twin has seen is refused (``EpochFence``).
    public var epoch: UInt64?
    /// For `lease`: the site asking and its request's ID; for `witness`: the site asking.
    public var holder: String?
    public var incarnation: UInt64?
    public var sequence: UInt64?
    /// For `release` and `handover`: the site the holder hands the tenant to; for `outdate`
    /// and `clear_outdated`: the twin recorded as lacking (or no longer lacking) acknowledged data.
    public var successor: String?
    /// For `drop_snapshots`: the snapshots the active site forgot.
    public var snapshots: [String]?

    public init(id: UInt64, op: String, tenant: String, packs: [String]? = nil, name: String? = nil, path: String? = nil,
                snapshot: String? = nil, snapshotTime: Date? = nil) {
        self.id = id
        self.op = op
        self.tenant = tenant
        self.packs = packs
        self.name = name
        self.path = path
        self.snapshot = snapshot
        self.snapshotTime = snapshotTime
    }

    public static let operations = ["lack", "put_pack", "put_object", "complete", "completed", "get_pack", "list_packs", "get_object",
                                    "lease", "witness", "release", "handover", "outdate", "clear_outdated",
                                    "drop_snapshots", "drop_packs"]
    /// Operations that change what the receiving site stores (each carries the tenant's epoch
    /// to a twin).
    public static let writes: Set<String> = ["put_pack", "put_object", "complete", "drop_snapshots", "drop_packs"]
    /// Deletions: only a twin takes them, from the tenant's active site; the remote site
    /// applies its own retention and refuses them.
    public static let deletions: Set<String> = ["drop_snapshots", "drop_packs"]

    /// Refuses names that could escape the tenant's folder or are not what the op needs.
    func validate() throws(LinkFrameError) {
        guard Self.operations.contains(op) else { throw .malformedMessage("unknown op '\(op)'") }
        guard LinkNames.isTenant(tenant) else { throw .malformedMessage("bad tenant name") }
        for pack in packs ?? [] where !LinkNames.isHash(pack) { throw .malformedMessage("bad pack name") }
        guard (packs?.count ?? 0) <= 1_000_000 else { throw .malformedMessage("too many packs") }
        for id in snapshots ?? [] where !LinkNames.isHash(id) { throw .malformedMessage("bad snapshot id") }
        guard (snapshots?.count ?? 0) <= 1_000_000 else { throw .malformedMessage("too many snapshots") }
        if let name, !LinkNames.isHash(name) { throw .malformedMessage("bad pack name") }
        if let snapshot, !LinkNames.isHash(snapshot) { throw .malformedMessage("bad snapshot id") }
        if let path, !LinkNames.isTenantObject(path) { throw .malformedMessage("path '\(path)' is not a tenant object") }
        if let source, source.utf8.count > 4096 { throw .malformedMessage("source too long") }
        switch op {
        case "lack", "drop_packs": guard packs != nil else { throw .malformedMessage("\(op) needs packs") }
        case "drop_snapshots": guard snapshots != nil else { throw .malformedMessage("drop_snapshots needs snapshots") }
        case "put_pack", "get_pack": guard name != nil else { throw .malformedMessage("\(op) needs name") }
        case "put_object", "get_object": guard path != nil else { throw .malformedMessage("\(op) needs path") }
        case "complete": guard snapshot != nil, packs != nil else { throw .malformedMessage("complete needs snapshot and packs") }
        case "lease":
            guard epoch != nil, incarnation != nil, sequence != nil, let holder, LinkNames.isSite(holder) else {
                throw .malformedMessage("lease needs epoch, holder, incarnation and sequence")
            }
        case "witness":
            guard let holder, LinkNames.isSite(holder) else { throw .malformedMessage("witness needs holder (the site asking)") }
        case "release", "handover", "outdate", "clear_outdated":
            guard epoch != nil, let holder, LinkNames.isSite(holder), let successor, LinkNames.isSite(successor) else {
                throw .malformedMessage("\(op) needs epoch, holder and successor")
            }
        default: break
        }
    }
}

/// The answer to one request.
public struct LinkResponse: Codable, Sendable, Equatable {
    public var id: UInt64
    public var ok: Bool
    public var error: String?
    /// For `lack`: the packs the answering site does not hold.
    public var missing: [String]?
    /// For `completed`: the snapshots complete there, with their times.
    public var completed: [String: Date]?
    /// For `list_packs`: every pack held there; for `drop_packs`: the named packs kept because
    /// a snapshot held there still needs them (or its needs are unknown).
    public var packs: [String]?
    /// For `lease`: the voter's answer.
    public var lease: LeaseWireReply?
    /// For `witness`: the witness's verdict on a takeover.
    public var verdict: WitnessWireVerdict?
    /// For `handover`: the epoch the successor now holds.
    public var epoch: UInt64?

    public init(id: UInt64, ok: Bool, error: String? = nil, missing: [String]? = nil, completed: [String: Date]? = nil,
                packs: [String]? = nil) {
        self.id = id
        self.ok = ok
        self.error = error
        self.missing = missing
        self.completed = completed
        self.packs = packs
    }
}

/// Name rules shared by both ends of a link.
public enum LinkNames {
    static let hex = Set("0123456789abcdef")

    public static func isHash(_ text: String) -> Bool { text.count == 64 && text.allSatisfy(hex.contains) }

    public static func isTenant(_ text: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        return (1...64).contains(text.count) && text.allSatisfy(allowed.contains) && !text.hasPrefix(".")
    }

    /// `tenant.json`, `keys/SLOT` or `snapshots/ID`, relative to the tenant's folder.
    /// A site name as configs allow it: 1-64 of letters, digits, '.', '_' and '-'.
    public static func isSite(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }

    public static func isTenantObject(_ path: String) -> Bool {
        if path == "tenant.json" { return true }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { return false }
        switch parts[0] {
        case "snapshots": return isHash(parts[1])
        case "keys": return (1...64).contains(parts[1].count) && parts[1].allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" } && parts[1].allSatisfy(\.isASCII)
        default: return false
        }
    }
}
