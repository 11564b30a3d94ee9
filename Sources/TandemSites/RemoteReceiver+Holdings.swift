import Foundation
import TandemCore
import TandemStore

extension RemoteReceiver {
    /// Bytes of the tenant's packs stored here: what a twin or the remote site holds of a
    /// tenant it does not write for (its index, if any, describes only what it wrote itself).
    /// Summed from the store once, then kept by this actor's own stores and deletions until
    /// ``invalidate(_:)``.
    public func storedBytes(_ tenant: String) async throws -> Int64 {
        if let bytes = packBytes[tenant] { return bytes }
        var total: Int64 = 0
        for path in try await backend.list(TenantLayout(tenant).packs) where LinkNames.isHash(TenantLayout.name(of: path)) {
            // A pack deleted between the listing and its size counts nothing.
            total += Int64((try? await backend.size(path)) ?? 0)
        }
        packBytes[tenant] = total
        return total
    }

    /// Deletes one of the tenant's packs, keeping the pack names and byte count current.
    func deletePack(tenant: String, _ name: String) async throws {
        let path = TenantLayout(tenant).pack(name)
        let size = packBytes[tenant] == nil ? nil : try? await backend.size(path)
        try await backend.delete(path)
        known[tenant]?.remove(name)
        if let size { packBytes[tenant]? -= Int64(size) }
    }

    /// Runs a deletion of `tenant`'s data holding its lock exclusive, as a local forget or
    /// prune does, so that no reader at this site (a restore, a drill, an export or a mount,
    /// each holding it shared) loses a pack or manifest under it. Throws ``ReceiveError/busy(_:)``
    /// at once when a reader holds it: the active site keeps its deletions queued and sends them
    /// again, and this site's own retention runs after the next snapshot.
    func deleting<Result>(_ tenant: String, _ body: () async throws -> Result) async throws -> Result {
        let lock: BackendLock
        do {
            lock = try await backend.lock(TenantLayout(tenant).lock, exclusive: true)
        } catch BackendError.locked {
            throw ReceiveError.busy("\(tenant) is being read at this site (a restore, drill, export or mount); its deletions wait for it to end")
        }
        return try await lock.whileHeld(body)
    }

    /// `tenants/T/complete/ID`: a snapshot whole at this site, with the packs it needs.
    struct CompleteRecord: Codable {
        let snapshot: String
        let time: Date
        let packs: Int
        var source: String?
        var packNames: [String]?
    }
}

/// Why the remote refused something a near site sent.
enum ReceiveError: Error, CustomStringConvertible {
    case mismatch(String)
    case appendOnly(String)
    case incomplete(String)
    /// A reader holds the tenant here; a deletion waits for it.
    case busy(String)

    var description: String {
        switch self {
        case .mismatch(let m), .appendOnly(let m), .incomplete(let m), .busy(let m): m
        }
    }
}
