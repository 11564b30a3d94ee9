import Foundation
import TandemCore

extension TenantRepository {
    /// The tenant's key slots, oldest first.
    public func keySlots() async throws -> [KeySlot] {
        try await Self.keySlots(repository: repository, tenant: name)
    }

    /// Wraps the master key for one more passphrase or key file. No data is re-encrypted.
    public func addKeySlot(_ secret: KeySecret, comment: String?, now: Date) async throws -> KeySlot {
        let slot = try KeyWrapping.wrap(master: master, secret: secret, suite: settings.suite, tenant: name,
                                        createdAt: now, comment: comment)
        try await backend.write(layout.key(slot.id), try JSON.encode(slot), overwrite: false)
        return slot
    }

    /// Removes a key slot; the last one is refused, since without it the data is lost for good.
    public func removeKeySlot(_ id: String) async throws {
        let slots = try await keySlots()
        guard slots.contains(where: { $0.id == id }) else { throw RepositoryError.keySlotNotFound(id) }
        guard slots.count > 1 else { throw RepositoryError.lastKeySlot(id) }
        try await backend.delete(layout.key(id))
    }
}
