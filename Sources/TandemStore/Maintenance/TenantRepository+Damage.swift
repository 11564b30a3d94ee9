import Foundation
import TandemCodecs
import TandemCore

/// Blobs of one pack that failed verification, kept at `tenants/T/damaged/PACK` (format 1,
/// JSON): the index must never point at them again, not even after a rebuild from the packs'
/// trailers, which still list them.
struct DamageRecord: Codable, Equatable {
    static let currentFormat = 1
    var format = DamageRecord.currentFormat
    var pack: String
    /// The damaged blobs' IDs, hex, sorted.
    var blobs: [String]
    /// What found the damage last (`check --read-data`, `restore`) and why.
    var reason: String
    var found: Date
}

/// Anything that says the bytes read were not what was stored: authentication, framing,
/// decompression or re-hash failures. Not I/O errors, which say nothing about the bytes.
func isDamage(_ error: any Error) -> Bool {
    switch error {
    case is BlobError, is FormatError: true
    case let error as CodecError:
        // What the bytes caused, not a library that failed to start or was misused.
        switch error {
        case .authenticationFailed, .truncatedInput, .decompressionFailed, .sizeLimitExceeded: true
        default: false
        }
    case let error as RepositoryError: if case .damaged = error { true } else { false }
    case let error as BackendError: if case .shortRead = error { true } else { false }
    default: false
    }
}

extension TenantRepository {
    func damagePath(_ pack: String) -> String { layout.damaged(pack) }

    /// Takes `blobs` of `pack` out of the index for good and records why, so that the next
    /// backup stores their chunks again (healing older snapshots, which name chunks by ID) and
    /// no rebuild of the index brings them back. Blobs already recorded stay recorded.
    public func recordDamage(pack: String, blobs: [ChunkID], reason: String, now: Date = Date()) async throws {
        guard !blobs.isEmpty else { return }
        var known = Set(try await damageRecord(pack)?.blobs ?? [])
        known.formUnion(blobs.map(\.hex))
        let record = DamageRecord(pack: pack, blobs: known.sorted(), reason: reason, found: now)
        try await backend.write(damagePath(pack), try JSON.encode(record), overwrite: true)
        try index.removeBlobs(blobs, inPack: pack)
    }

    /// The blobs recorded damaged in each pack.
    func damagedBlobs() async throws -> [String: Set<ChunkID>] {
        var result: [String: Set<ChunkID>] = [:]
        for path in try await backend.list(layout.damaged) {
            let pack = String(path.split(separator: "/").last!)
            guard pack.count == 64, let record = try await damageRecord(pack) else { continue }
            result[pack] = Set(record.blobs.compactMap { ChunkID(hex: $0) })
        }
        return result
    }

    private func damageRecord(_ pack: String) async throws -> DamageRecord? {
        let bytes: [UInt8]
        do { bytes = try await backend.read(damagePath(pack)) } catch BackendError.notFound { return nil }
        guard let record = try? JSON.decode(DamageRecord.self, from: bytes), (1...DamageRecord.currentFormat).contains(record.format) else {
            throw FormatError.corrupt(damagePath(pack), "not a damage record")
        }
        return record
    }

    /// Forgets a pack's damage (it was replaced by a good copy, or deleted) and indexes the
    /// blobs of the copy now stored, if any.
    public func clearDamage(pack: String) async throws {
        try await backend.delete(damagePath(pack))
        if let (size, entries) = try? await packEntries(pack) {
            try index.addPack(name: pack, size: size, entries: entries)
        }
    }

    /// Records the damage `error` shows in the blob at `location` (every member, for a group
    /// frame: none of them can be trusted), if it is damage at all; rethrows it either way.
    func noteDamage(_ error: any Error, at location: BlobLocation, id: ChunkID, locations: [ChunkID: BlobLocation],
                    reason: String) async -> any Error {
        guard isDamage(error) else { return error }
        var members = [id]
        if location.inner != nil {
            members = locations.compactMap { $0.value.pack == location.pack && $0.value.offset == location.offset ? $0.key : nil }
        }
        try? await recordDamage(pack: location.pack, blobs: members, reason: "\(reason): \(error)")
        return error
    }
}
