import Foundation
import Testing
import TandemCodecs
import TandemCore
import TandemStore
@testable import TandemSites

/// The remote site's receiving side against hostile or broken near sites: it stores only
/// what verifies, never replaces or deletes, and completes a snapshot only when whole.
@Suite struct RemoteReceiverTests {
    func hash(_ bytes: [UInt8]) -> String { Hex.encode(Hasher256.hash(.sha256, bytes)) }

    func request(_ op: String, _ tenant: String = "t1", packs: [String]? = nil, name: String? = nil, path: String? = nil,
                 snapshot: String? = nil) -> LinkRequest {
        LinkRequest(id: 1, op: op, tenant: tenant, packs: packs, name: name, path: path, snapshot: snapshot, snapshotTime: Date())
    }

    @Test func packsAndManifestsAreStoredOnlyWhenTheyHashToTheirNames() async throws {
        let backend = InMemoryBackend()
        let receiver = RemoteReceiver(backend: backend)
        let pack = Array("pack bytes".utf8)
        let good = await receiver.handle(peer: "home-a", request: request("put_pack", name: hash(pack)), body: pack)
        #expect(good.ok)
        let altered = await receiver.handle(peer: "home-a", request: request("put_pack", name: hash(pack)), body: pack + [0])
        #expect(!altered.ok && altered.error?.contains("do not hash to its name") == true)
        let forged = await receiver.handle(peer: "home-a", request: request("put_pack", name: hash([1])), body: [2])
        #expect(!forged.ok)
        #expect(try await backend.list("tenants/t1/packs") == ["tenants/t1/packs/\(hash(pack).prefix(2))/\(hash(pack))"])
        let manifest = Array("sealed manifest".utf8)
        let wrongID = await receiver.handle(peer: "home-a", request: request("put_object", path: "snapshots/\(hash([9]))"), body: manifest)
        #expect(!wrongID.ok)
        #expect(await receiver.handle(peer: "home-a", request: request("put_object", path: "snapshots/\(hash(manifest))"), body: manifest).ok)
        let lack = await receiver.handle(peer: "home-a", request: request("lack", packs: [hash(pack), hash([7])]), body: [])
        #expect(lack.missing == [hash([7])])
    }

    @Test func nothingIsEverReplaced() async throws {
        let backend = InMemoryBackend()
        let receiver = RemoteReceiver(backend: backend)
        #expect(await receiver.handle(peer: "a", request: request("put_object", path: "tenant.json"), body: Array("v1".utf8)).ok)
        // The same bytes again are fine (a retry); different bytes are refused.
        #expect(await receiver.handle(peer: "a", request: request("put_object", path: "tenant.json"), body: Array("v1".utf8)).ok)
        let replaced = await receiver.handle(peer: "a", request: request("put_object", path: "tenant.json"), body: Array("v2".utf8))
        #expect(!replaced.ok && replaced.error?.contains("never replaces") == true)
        #expect(try await backend.read("tenants/t1/tenant.json") == Array("v1".utf8))
    }

    @Test func aSnapshotIsCompleteOnlyWhenEverythingIsThere() async throws {
        let receiver = RemoteReceiver(backend: InMemoryBackend())
        let pack = Array("p".utf8)
        let manifest = Array("m".utf8)
        let early = await receiver.handle(peer: "a", request: request("complete", packs: [hash(pack)], snapshot: hash(manifest)), body: [])
        #expect(!early.ok && early.error?.contains("manifest has not arrived") == true)
        _ = await receiver.handle(peer: "a", request: request("put_object", path: "snapshots/\(hash(manifest))"), body: manifest)
        let noPack = await receiver.handle(peer: "a", request: request("complete", packs: [hash(pack)], snapshot: hash(manifest)), body: [])
        #expect(!noPack.ok && noPack.error?.contains("1 pack(s) not here yet") == true)
        _ = await receiver.handle(peer: "a", request: request("put_pack", name: hash(pack)), body: pack)
        #expect(await receiver.handle(peer: "a", request: request("complete", packs: [hash(pack)], snapshot: hash(manifest)), body: []).ok)
        let completed = await receiver.handle(peer: "a", request: request("completed"), body: [])
        #expect(completed.completed?.keys.sorted() == [hash(manifest)])
        // Another tenant sees nothing of it.
        let other = await receiver.handle(peer: "a", request: request("completed", "t2"), body: [])
        #expect(other.completed == [:])
    }
}
