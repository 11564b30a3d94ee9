import Foundation
import TandemCore
import TandemStore

/// The twin's epoch fences, one per tenant, kept crash-safely in `STATE/fence/TENANT.json`:
/// every mirrored write must carry the tenant's epoch, and one older than the newest seen is
/// refused and counted (``TandemCore/EpochFence``). A fence only moves up, and it is saved
/// before a write that moved it is stored, so a restart never lowers it.
public actor MirrorFence {
    private let store: LocalBackend
    private var fences: [String: EpochFence] = [:]

    /// `stateDirectory/fence` holds the fences.
    public init(stateDirectory: String) {
        store = LocalBackend(root: stateDirectory + "/fence")
    }

    private struct Saved: Codable {
        var epoch: Epoch
    }

    private func fence(_ tenant: String) async -> EpochFence {
        if let fence = fences[tenant] { return fence }
        var fence = EpochFence(current: Epoch(0))
        if let bytes = try? await store.read("\(tenant).json"), let saved = try? ControlJSON.decoder().decode(Saved.self, from: Data(bytes)) {
            fence = EpochFence(current: saved.epoch)
        }
        fences[tenant] = fence
        return fence
    }

    /// The newest epoch this site has seen for `tenant` (0: none yet).
    public func current(_ tenant: String) async -> UInt64 { await fence(tenant).current.value }

    /// Writes refused as stale for `tenant` since this process started (a metric).
    public func staleRefused(_ tenant: String) async -> Int { await fence(tenant).staleRefused }

    /// Why a request may not be stored, or nil when it may. Reads pass; a write must carry an
    /// epoch no older than the newest seen.
    public func refusal(for request: LinkRequest) async -> String? {
        guard request.operation.isWrite else { return nil }
        guard let value = request.epoch, value > 0 else {
            return "a mirrored \(request.operation.rawValue) for tenant \(request.tenant) carries no epoch; refused"
        }
        var fence = await fence(request.tenant)
        let verdict = fence.admit(Epoch(value))
        fences[request.tenant] = fence
        switch verdict {
        case .accepted:
            return nil
        case .advanced:
            do { try await save(request.tenant, fence) } catch { return "cannot record epoch \(value) for tenant \(request.tenant): \(error)" }
            return nil
        case .refused(let stale):
            return "tenant \(request.tenant): \(stale)"
        }
    }

    /// Raises the fence (this site took the tenant over at `epoch`).
    public func raise(_ tenant: String, to epoch: UInt64) async throws {
        var fence = await fence(tenant)
        if case .advanced = fence.admit(Epoch(epoch)) {
            fences[tenant] = fence
            try await save(tenant, fence)
        }
    }

    private func save(_ tenant: String, _ fence: EpochFence) async throws {
        let bytes = try ControlJSON.encoder(pretty: true).encode(Saved(epoch: fence.current))
        try await store.write("\(tenant).json", Array(bytes), overwrite: true)
    }
}
