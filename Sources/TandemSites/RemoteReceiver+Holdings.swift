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

    var description: String {
        switch self {
        case .mismatch(let m), .appendOnly(let m), .incomplete(let m): m
        }
    }
}
