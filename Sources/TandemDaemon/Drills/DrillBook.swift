import Foundation
import TandemCore
import TandemStore

/// The newest drill results per tenant and drilled site (`twin` or `remote`), kept
/// crash-safely in `STATE/drills.json`, so that a restart neither forgets the last good
/// drill nor restarts the overdue clock. Owned by the ``Daemon`` actor.
struct DrillBook: Sendable {
    /// One tenant's drills at one site.
    struct Record: Codable, Sendable, Equatable {
        /// When this site first had the tenant's copy at that site to drill: a copy never
        /// drilled is overdue counting from here.
        var since: Date
        /// The last drill that verified and restored a snapshot.
        var lastSuccess: Date?
        /// That drill's RPO (the age of the snapshot it restored) and RTO (start to verified restore).
        var rpoSeconds: Double?
        var rtoSeconds: Double?
        /// The last drill that failed, and why.
        var lastFailure: Date?
        var lastError: String?
    }

    /// Records by `tenant/site`.
    private(set) var records: [String: Record]
    /// Where the records are kept.
    let file: String

    /// Loads the records kept in `stateDirectory` (none if the file is missing or unreadable).
    init(stateDirectory: String) {
        file = (stateDirectory as NSString).appendingPathComponent("drills.json")
        if let data = FileManager.default.contents(atPath: file),
           let saved = try? ControlJSON.decoder().decode([String: Record].self, from: data) {
            records = saved
        } else {
            records = [:]
        }
    }

    static func key(tenant: String, site: String) -> String { "\(tenant)/\(site)" }

    func record(tenant: String, site: String) -> Record? { records[Self.key(tenant: tenant, site: site)] }

    /// Starts the overdue clock of a copy first seen now; true if the book changed.
    mutating func track(tenant: String, site: String, now: Date) -> Bool {
        let key = Self.key(tenant: tenant, site: site)
        guard records[key] == nil else { return false }
        records[key] = Record(since: now)
        return true
    }

    /// A drill verified and restored a snapshot.
    mutating func succeeded(tenant: String, site: String, at time: Date, rpo: Double, rto: Double) {
        var record = records[Self.key(tenant: tenant, site: site)] ?? Record(since: time)
        record.lastSuccess = time
        record.rpoSeconds = rpo
        record.rtoSeconds = rto
        records[Self.key(tenant: tenant, site: site)] = record
    }

    /// A drill failed (nothing verified, or damage found).
    mutating func failed(tenant: String, site: String, at time: Date, error: String) {
        var record = records[Self.key(tenant: tenant, site: site)] ?? Record(since: time)
        record.lastFailure = time
        record.lastError = error
        records[Self.key(tenant: tenant, site: site)] = record
    }

    /// Writes the records crash-safely (temp file, fsync, rename, fsync of the directory).
    func save() async throws {
        let bytes = Array(try ControlJSON.encoder(pretty: true).encode(records))
        let directory = (file as NSString).deletingLastPathComponent
        try await LocalBackend(root: directory).write((file as NSString).lastPathComponent, bytes, overwrite: true)
    }
}
