import Foundation

/// What a site answers to one request, typed per operation: a refusal with its reason, or the
/// payload that operation returns. `LinkResponseWire` is the one place that maps it to and from
/// a response frame's header.
public enum LinkAnswer: Sendable, Equatable {
    /// The receiver would not or could not do it; the reason is for logs and operators.
    case refused(String)
    /// Done, nothing to report: writes, `release`, `outdate`, `clear_outdated`, and `get_pack`
    /// or `get_object`, whose answer is the response's body.
    case done
    /// For `lack`: the packs asked about that the receiver does not hold.
    case missing([String])
    /// For `completed`: the snapshots complete at the receiver.
    case completed(CompletedSnapshots)
    /// For `list_packs`: every pack held there. For `drop_packs`: the named packs kept because
    /// a snapshot held there still needs them (or its needs are unknown).
    case packs([String])
    /// For `lease`: the voter's answer.
    case lease(LeaseWireReply)
    /// For `witness`: the witness's verdict on a takeover.
    case verdict(WitnessWireVerdict)
    /// For `handover`: the successor took the tenant and now holds this epoch.
    case handedOver(epoch: UInt64)

    /// Whether this is an answer `operation` can get: a refusal always is; otherwise only the
    /// payload the operation returns.
    public func answers(_ operation: LinkOperation) -> Bool {
        switch self {
        case .refused: true
        case .done: [.putPack, .putObject, .complete, .getPack, .getObject, .release, .outdate, .clearOutdated, .dropSnapshots].contains(operation)
        case .missing: operation == .lack
        case .completed: operation == .completed
        case .packs: operation == .listPacks || operation == .dropPacks
        case .lease: operation == .lease
        case .verdict: operation == .witness
        case .handedOver: operation == .handover
        }
    }

    /// The answer's kind, as logs and protocol errors name it.
    public var kind: String {
        switch self {
        case .refused: "refused"
        case .done: "done"
        case .missing: "missing"
        case .completed: "completed"
        case .packs: "packs"
        case .lease: "lease"
        case .verdict: "verdict"
        case .handedOver: "handed_over"
        }
    }
}

/// A `completed` answer: the snapshots complete at the receiver with their times, and the
/// packs of the newest one, so a drill fetches exactly what it needs.
public struct CompletedSnapshots: Sendable, Equatable {
    public var times: [String: Date]
    /// Nil from a receiver that holds none (or does not say).
    public var newestPacks: [String]?

    public init(times: [String: Date], newestPacks: [String]? = nil) {
        self.times = times
        self.newestPacks = newestPacks
    }
}

/// The answer to one request, matched to it by `id`. Its JSON (the frame's header) is the flat
/// form `LinkResponseWire` defines; decoding refuses a header that makes no single answer.
public struct LinkResponse: Codable, Sendable, Equatable {
    /// The request's ID.
    public var id: UInt64
    public var answer: LinkAnswer

    public init(id: UInt64, _ answer: LinkAnswer) {
        self.id = id
        self.answer = answer
    }

    /// A refusal of request `id`, with the reason.
    public static func refused(id: UInt64, _ reason: String) -> LinkResponse {
        LinkResponse(id: id, .refused(reason))
    }

    /// The receiver's reason, when it refused.
    public var refusal: String? {
        if case .refused(let reason) = answer { reason } else { nil }
    }

    /// The receiver did what was asked.
    public var ok: Bool { refusal == nil }

    public init(from decoder: any Decoder) throws {
        self = try LinkResponseWire(from: decoder).response()
    }

    public func encode(to encoder: any Encoder) throws {
        try LinkResponseWire(self).encode(to: encoder)
    }
}
