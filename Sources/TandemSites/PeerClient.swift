import Foundation
import Logging
import TandemCodecs
import TandemCore
import TandemStore

/// One-off exchanges with a peer site, each on a connection of its own: a single request
/// (the witness's outdated records, a switchover's handover), a repair's fetch of packs, a
/// drill's copy of the newest snapshot. It keeps no state: a ``Shipper`` hands one out for its
/// peer (``Shipper/client``), and a near site talks to its witness through one.
public struct PeerClient: Sendable {
    public let peer: Shipper.Remote
    let backend: any Backend
    let logger: Logger

    /// `backend` is this site's repository: what a repair fetches is stored there.
    public init(peer: Shipper.Remote, backend: any Backend, logger: Logger) {
        self.peer = peer
        self.backend = backend
        self.logger = logger
    }

    /// Sends one request to the peer on a connection of its own and returns the answer.
    public func send(_ request: LinkRequest) async throws -> LinkResponse {
        try await peer.link.with {
            try await $0.request(request)
        }
    }

    /// Repair: fetches packs from the remote site and stores them here, each only if it hashes
    /// to its name (a damaged local copy is replaced). `names` nil asks for every pack the
    /// remote holds that is not here. Returns what was fetched and what the remote could not give.
    public func fetchPacks(tenant: String, names: [String]?) async throws -> (fetched: [String], unavailable: [String]) {
        try await peer.link.with { connection in
            var wanted = names ?? []
            if names == nil {
                let theirs = try await connection.packs(LinkRequest(.listPacks, tenant: tenant))
                let ours = Set(try await backend.list(TenantLayout(tenant).packs).map(TenantLayout.name(of:)))
                wanted = theirs.filter { LinkNames.isHash($0) && !ours.contains($0) }
            }
            var fetched: [String] = []
            var unavailable: [String] = []
            for name in wanted {
                let (response, bytes) = try await connection.exchange(LinkRequest(.getPack(name: name), tenant: tenant))
                guard response.ok, Hex.encode(Hasher256.hash(.sha256, bytes)) == name else {
                    logger.warning("the remote site could not give a good copy of a pack", metadata: [
                        "tenant": "\(tenant)", "pack": "\(name.prefix(12))", "why": "\(response.refusal ?? "its bytes do not hash to its name")"])
                    unavailable.append(name)
                    continue
                }
                try await backend.write(TenantLayout(tenant).pack(name), bytes, overwrite: true)
                fetched.append(name)
            }
            return (fetched, unavailable)
        }
    }

    /// Drill: copies the newest snapshot complete at the remote site (its manifest, the
    /// tenant's settings and key slots, and every pack it uses, each verified by its name)
    /// into `scratch`, a fresh backend. Returns the snapshot's ID and time, or nil when the
    /// remote holds none.
    public func fetchNewestSnapshot(tenant: String, into scratch: any Backend) async throws -> (id: String, time: Date)? {
        try await peer.link.with { connection in
            let listed = try await connection.completed(tenant: tenant)
            guard let (id, time) = listed.times.max(by: { $0.value < $1.value }) else { return nil }
            var packs = listed.newestPacks ?? []
            if packs.isEmpty {
                packs = try await connection.packs(LinkRequest(.listPacks, tenant: tenant))
            }
            for object in ["tenant.json", "snapshots/\(id)"] {
                let bytes = try await connection.fetch(LinkRequest(.getObject(path: object), tenant: tenant))
                if object.hasPrefix("snapshots/"), Hex.encode(Hasher256.hash(.sha256, bytes)) != id {
                    throw LinkError.protocolViolation("the remote's manifest \(id.prefix(12)) does not hash to its ID")
                }
                try await scratch.write(TenantLayout(tenant).object(object), bytes, overwrite: true)
            }
            for slot in try await backend.list(TenantLayout(tenant).keys).compactMap({ $0.split(separator: "/").last.map(String.init) }) {
                let (response, bytes) = try await connection.exchange(LinkRequest(.getObject(path: "keys/\(slot)"), tenant: tenant))
                if response.ok { try await scratch.write(TenantLayout(tenant).key(slot), bytes, overwrite: true) }
            }
            for name in packs where LinkNames.isHash(name) {
                let (response, bytes) = try await connection.exchange(LinkRequest(.getPack(name: name), tenant: tenant))
                guard response.ok, Hex.encode(Hasher256.hash(.sha256, bytes)) == name else {
                    throw LinkError.remote("pack \(name.prefix(12)) is missing or damaged at the remote site")
                }
                try await scratch.write(TenantLayout(tenant).pack(name), bytes, overwrite: true)
            }
            return (id, time)
        }
    }
}
