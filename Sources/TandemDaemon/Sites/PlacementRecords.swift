import Foundation
import TandemCore
import TandemStore

/// The lease coordinator's records, kept crash-safely in `STATE/placement/` (temp file, fsync,
/// rename, fsync of the directory): where each tenant is active and at which epoch
/// (`TENANT.json`), and the twins this site's voter recorded outdated (`TENANT.outdated.json`),
/// so a restarted site still refuses a stale twin.
struct PlacementRecords: Sendable {
    private let store: LocalBackend

    init(directory: String) {
        store = LocalBackend(root: directory)
    }

    /// The tenant's placement, nil when none was recorded (or the record is unreadable).
    func placement(_ tenant: String) async -> LeaseCoordinator.Placement? {
        guard let bytes = try? await store.read("\(tenant).json") else { return nil }
        return try? ControlJSON.decoder().decode(LeaseCoordinator.Placement.self, from: Data(bytes))
    }

    func save(_ tenant: String, _ placement: LeaseCoordinator.Placement) async throws {
        try await store.write("\(tenant).json", Array(try ControlJSON.encoder(pretty: true).encode(placement)), overwrite: true)
    }

    /// The twins recorded outdated for the tenant, with the epoch of each record.
    func outdated(_ tenant: String) async -> [SiteID: Epoch] {
        guard let bytes = try? await store.read("\(tenant).outdated.json"),
              let saved = try? ControlJSON.decoder().decode([String: UInt64].self, from: Data(bytes)) else { return [:] }
        var outdated: [SiteID: Epoch] = [:]
        for (site, epoch) in saved { outdated[SiteID(site)] = Epoch(epoch) }
        return outdated
    }

    func saveOutdated(_ tenant: String, _ outdated: [SiteID: Epoch]) async throws {
        let map = Dictionary(uniqueKeysWithValues: outdated.map { ($0.key.name, $0.value.value) })
        try await store.write("\(tenant).outdated.json", Array(try ControlJSON.encoder(pretty: true).encode(map)), overwrite: true)
    }
}
