import Foundation
import TandemCore
import TandemStore

/// One tenant's on-disk shipping queue (`STATE/shipping/TENANT.json`, written crash-safely:
/// temp file, fsync, rename, fsync dir): the committed snapshots not yet complete at the
/// remote site, in commit order, and what is known of the remote's newest complete one.
public struct ShippingQueue: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var snapshot: String
        public var time: Date
        public var committedAt: Date
        /// What the snapshot is of (retention at the remote groups by it).
        public var source: String?
        /// The packs the snapshot's data lives in (nil: not known; all of the tenant's are sent).
        public var packs: [String]?

        public init(snapshot: String, time: Date, committedAt: Date, source: String? = nil, packs: [String]? = nil) {
            self.snapshot = snapshot
            self.time = time
            self.committedAt = committedAt
            self.source = source
            self.packs = packs
        }
    }

    public var pending: [Entry] = []
    /// The time of the newest snapshot complete at the remote (nil: none yet).
    public var newestComplete: Date?
    public var completeCount = 0
    /// Bytes of packs the remote lacked at the last look.
    public var pendingBytes: Int64 = 0
    public var lastError: String?
    /// Twin mirror only: retention at the active site, still to be carried to the twin, in
    /// this order: snapshots whose packs changed in a repack (`complete` restated, after any
    /// new pack), snapshots forgotten, then packs pruned.
    public var restated: [Entry] = []
    public var forgotten: [String] = []
    public var retired: [String] = []

    /// Whether deletions wait to be sent.
    public var hasDeletions: Bool { !restated.isEmpty || !forgotten.isEmpty || !retired.isEmpty }

    public init() {}

    enum CodingKeys: String, CodingKey {
        case pending, newestComplete, completeCount, pendingBytes, lastError, restated, forgotten, retired
    }

    /// Queues saved before deletions were mirrored decode with none pending.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        pending = try container.decode([Entry].self, forKey: .pending)
        newestComplete = try container.decodeIfPresent(Date.self, forKey: .newestComplete)
        completeCount = try container.decode(Int.self, forKey: .completeCount)
        pendingBytes = try container.decode(Int64.self, forKey: .pendingBytes)
        lastError = try container.decodeIfPresent(String.self, forKey: .lastError)
        restated = try container.decodeIfPresent([Entry].self, forKey: .restated) ?? []
        forgotten = try container.decodeIfPresent([String].self, forKey: .forgotten) ?? []
        retired = try container.decodeIfPresent([String].self, forKey: .retired) ?? []
    }

    public mutating func add(snapshot: String, time: Date, committedAt: Date, source: String? = nil, packs: [String]? = nil) {
        guard !pending.contains(where: { $0.snapshot == snapshot }) else { return }
        pending.append(Entry(snapshot: snapshot, time: time, committedAt: committedAt, source: source, packs: packs))
        pending.sort { $0.time < $1.time }
    }

    /// Remote RPO: what would be lost if both near sites vanished now.
    public func remoteRPO(now: Date) -> TimeInterval? { newestComplete.map { now.timeIntervalSince($0) } }

    /// Shipping lag: the age of the oldest committed snapshot not yet complete there.
    public func lag(now: Date) -> TimeInterval { pending.first.map { max(0, now.timeIntervalSince($0.committedAt)) } ?? 0 }

    static func load(_ store: LocalBackend, tenant: String) async -> ShippingQueue {
        guard let bytes = try? await store.read("\(tenant).json"),
              let queue = try? ControlJSON.decoder().decode(ShippingQueue.self, from: Data(bytes)) else { return ShippingQueue() }
        return queue
    }

    func save(_ store: LocalBackend, tenant: String) async throws {
        try await store.write("\(tenant).json", Array(try ControlJSON.encoder(pretty: true).encode(self)), overwrite: true)
    }
}
