import Foundation
import TandemCodecs

/// One line of the audit log: who did what to which tenant, when, and how it ended. Each
/// record carries the hash of the one before it, so removing, reordering or editing any line
/// breaks the chain at that line (``AuditChain/verify(_:)``).
///
/// The hash is SHA-256 over the record's canonical text: the fields below in this order,
/// each as `name=value` with newlines and `=` escaped (the time as Unix milliseconds),
/// joined by newlines, ending with the previous record's hash (64 zeros for the first record).
public struct AuditRecord: Codable, Sendable, Equatable {
    public var sequence: Int
    /// When, in Unix milliseconds: an integer, so the hash survives any text round trip.
    public var timeMilliseconds: Int64
    /// The caller: `uid:N` (with the user name when known), or `daemon` for scheduled work.
    public var actor: String
    /// `operator`, `tenant` or `daemon`.
    public var role: String
    /// What was asked: `backup`, `restore`, `prune`, `check`, `reload`, `start`, `stop`, ...
    public var action: String
    public var tenant: String?
    public var detail: String
    /// `ok`, `refused`, or `failed: why`.
    public var result: String
    public var previousHash: String
    public var hash: String

    public var time: Date { Date(timeIntervalSince1970: Double(timeMilliseconds) / 1000) }

    public static let genesisHash = String(repeating: "0", count: 64)

    /// A new record chained after `previous` (nil for the first), its hash computed.
    public init(after previous: AuditRecord?, time: Date, actor: String, role: String, action: String,
                tenant: String?, detail: String, result: String) {
        sequence = (previous?.sequence ?? 0) + 1
        timeMilliseconds = Int64((time.timeIntervalSince1970 * 1000).rounded())
        self.actor = actor
        self.role = role
        self.action = action
        self.tenant = tenant
        self.detail = detail
        self.result = result
        previousHash = previous?.hash ?? Self.genesisHash
        hash = ""
        hash = computedHash()
    }

    /// The hash this record's fields call for (equal to `hash` unless it was altered).
    public func computedHash() -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
                .replacingOccurrences(of: "=", with: "\\=")
        }
        let fields = [
            "sequence=\(sequence)",
            "time=\(timeMilliseconds)",
            "actor=\(escape(actor))",
            "role=\(escape(role))",
            "action=\(escape(action))",
            "tenant=\(tenant.map(escape) ?? "-")",
            "detail=\(escape(detail))",
            "result=\(escape(result))",
            "previous=\(previousHash)",
        ]
        return Hex.encode(Hasher256.hash(.sha256, Array(fields.joined(separator: "\n").utf8)))
    }
}

/// Checks an audit log's hash chain.
public enum AuditChain {
    /// The first break found, or nil when every record is intact and in order.
    public static func verify(_ records: [AuditRecord]) -> AuditBreak? {
        var previous = AuditRecord.genesisHash
        var sequence = 0
        for record in records {
            if record.sequence != sequence + 1 {
                return AuditBreak(sequence: record.sequence, reason: "expected record \(sequence + 1), found \(record.sequence): records are missing or reordered")
            }
            if record.previousHash != previous {
                return AuditBreak(sequence: record.sequence, reason: "does not chain to the record before it")
            }
            if record.computedHash() != record.hash {
                return AuditBreak(sequence: record.sequence, reason: "its contents do not match its hash: the record was altered")
            }
            previous = record.hash
            sequence = record.sequence
        }
        return nil
    }
}

/// Where and why an audit chain breaks.
public struct AuditBreak: Sendable, Equatable, Codable, CustomStringConvertible {
    public let sequence: Int
    public let reason: String

    public var description: String { "audit record \(sequence): \(reason)" }
}
