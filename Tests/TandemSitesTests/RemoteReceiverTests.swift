import Foundation
import Testing
import TandemCodecs
import TandemCore
import TandemSiteLab
import TandemStore
@testable import TandemSites

/// The remote site's receiving side against hostile or broken near sites: it stores only
/// what verifies, never replaces or deletes, and completes a snapshot only when whole.
@Suite struct RemoteReceiverTests {
    func hash(_ bytes: [UInt8]) -> String { Hex.encode(Hasher256.hash(.sha256, bytes)) }

    func request(_ op: LinkOperation, _ tenant: String = "t1", packs: [String]? = nil, name: String? = nil, path: String? = nil,
                 snapshot: String? = nil) -> LinkRequest {
        let call: LinkCall
        switch op {
        case .putPack: call = .putPack(name: name!)
        case .putObject: call = .putObject(path: path!)
        case .lack: call = .lack(packs: packs!)
        case .complete: call = .complete(SnapshotCompletion(snapshot: snapshot!, time: Date(), packs: packs ?? []))
        case .completed: call = .completed
        default: fatalError("no test builds \(op)")
        }
        return LinkRequest(call, tenant: tenant, id: 1)
    }

    @Test func packsAndManifestsAreStoredOnlyWhenTheyHashToTheirNames() async throws {
        let backend = InMemoryBackend()
        let receiver = RemoteReceiver(backend: backend)
        let pack = Array("pack bytes".utf8)
        let good = await receiver.handle(peer: "home-a", request: request(.putPack, name: hash(pack)), body: pack)
        #expect(good.ok)
        let altered = await receiver.handle(peer: "home-a", request: request(.putPack, name: hash(pack)), body: pack + [0])
        #expect(!altered.ok && altered.refusal?.contains("do not hash to its name") == true)
        let forged = await receiver.handle(peer: "home-a", request: request(.putPack, name: hash([1])), body: [2])
        #expect(!forged.ok)
        #expect(try await backend.list("tenants/t1/packs") == ["tenants/t1/packs/\(hash(pack).prefix(2))/\(hash(pack))"])
        let manifest = Array("sealed manifest".utf8)
        let wrongID = await receiver.handle(peer: "home-a", request: request(.putObject, path: "snapshots/\(hash([9]))"), body: manifest)
        #expect(!wrongID.ok)
        #expect(await receiver.handle(peer: "home-a", request: request(.putObject, path: "snapshots/\(hash(manifest))"), body: manifest).ok)
        let lack = await receiver.handle(peer: "home-a", request: request(.lack, packs: [hash(pack), hash([7])]), body: [])
        #expect(lack.missingPacks == [hash([7])])
    }

    @Test func nothingIsEverReplaced() async throws {
        let backend = InMemoryBackend()
        let receiver = RemoteReceiver(backend: backend)
        #expect(await receiver.handle(peer: "a", request: request(.putObject, path: "tenant.json"), body: Array("v1".utf8)).ok)
        // The same bytes again are fine (a retry); different bytes are refused.
        #expect(await receiver.handle(peer: "a", request: request(.putObject, path: "tenant.json"), body: Array("v1".utf8)).ok)
        let replaced = await receiver.handle(peer: "a", request: request(.putObject, path: "tenant.json"), body: Array("v2".utf8))
        #expect(!replaced.ok && replaced.refusal?.contains("never replaces") == true)
        #expect(try await backend.read("tenants/t1/tenant.json") == Array("v1".utf8))
    }

    @Test func aSnapshotIsCompleteOnlyWhenEverythingIsThere() async throws {
        let receiver = RemoteReceiver(backend: InMemoryBackend())
        let pack = Array("p".utf8)
        let manifest = Array("m".utf8)
        let early = await receiver.handle(peer: "a", request: request(.complete, packs: [hash(pack)], snapshot: hash(manifest)), body: [])
        #expect(!early.ok && early.refusal?.contains("manifest has not arrived") == true)
        _ = await receiver.handle(peer: "a", request: request(.putObject, path: "snapshots/\(hash(manifest))"), body: manifest)
        let noPack = await receiver.handle(peer: "a", request: request(.complete, packs: [hash(pack)], snapshot: hash(manifest)), body: [])
        #expect(!noPack.ok && noPack.refusal?.contains("1 pack(s) not here yet") == true)
        _ = await receiver.handle(peer: "a", request: request(.putPack, name: hash(pack)), body: pack)
        #expect(await receiver.handle(peer: "a", request: request(.complete, packs: [hash(pack)], snapshot: hash(manifest)), body: []).ok)
        let completed = await receiver.handle(peer: "a", request: request(.completed), body: [])
        #expect(completed.completedTimes?.keys.sorted() == [hash(manifest)])
        // Another tenant sees nothing of it.
        let other = await receiver.handle(peer: "a", request: request(.completed, "t2"), body: [])
        #expect(other.completedTimes == [:])
    }
}

/// The remote site's own retention, applied without keys from the complete records.
@Suite struct RemoteRetentionTests {
    func hash(_ bytes: [UInt8]) -> String { Hex.encode(Hasher256.hash(.sha256, bytes)) }

    @Test func retentionAtTheRemoteRemovesOldSnapshotsAndOnlyTheirOwnPacks() async throws {
        let backend = InMemoryBackend()
        let receiver = RemoteReceiver(backend: backend)
        let shared = Array("shared pack".utf8)
        _ = await receiver.handle(peer: "a", request: LinkRequest(.putPack(name: hash(shared)), tenant: "t1", id: 1), body: shared)
        // The stored bytes are summed from the store once, then kept by every store and deletion.
        #expect(try await receiver.storedBytes("t1") == Int64(shared.count))
        var manifests: [String] = []
        var own: [String] = []
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for day in 0..<5 {
            let pack = Array("pack of day \(day)".utf8)
            let manifest = Array("manifest \(day)".utf8)
            _ = await receiver.handle(peer: "a", request: LinkRequest(.putPack(name: hash(pack)), tenant: "t1", id: 1), body: pack)
            _ = await receiver.handle(peer: "a", request: LinkRequest(.putObject(path: "snapshots/\(hash(manifest))"), tenant: "t1", id: 1),
                                      body: manifest)
            let complete = LinkRequest(.complete(SnapshotCompletion(snapshot: hash(manifest), time: start.addingTimeInterval(Double(day) * 86400),
                                                                    packs: [hash(shared), hash(pack)], source: "/srv/data")), tenant: "t1", id: 1)
            #expect(await receiver.handle(peer: "a", request: complete, body: []).ok)
            manifests.append(hash(manifest))
            own.append(hash(pack))
        }
        let report = try await receiver.applyRetention(tenant: "t1", policy: RetentionPolicy(keepLast: 2),
                                                       timeZone: TimeZone(identifier: "UTC")!, now: start.addingTimeInterval(5 * 86400))
        #expect(Set(report.removed) == Set(manifests.prefix(3)))
        #expect(report.packsDeleted == 3)
        let packs = Set(try await backend.list("tenants/t1/packs").map { String($0.split(separator: "/").last!) })
        #expect(packs == Set([hash(shared)] + own.suffix(2)))
        var held: Int64 = 0
        for path in try await backend.list("tenants/t1/packs") { held += Int64(try await backend.size(path)) }
        #expect(try await receiver.storedBytes("t1") == held)
        #expect(try await RemoteReceiver(backend: backend).storedBytes("t1") == held)
        let snapshots = Set(try await backend.list("tenants/t1/snapshots").map { String($0.split(separator: "/").last!) })
        #expect(snapshots == Set(manifests.suffix(2)))
        let completed = await receiver.handle(peer: "a", request: LinkRequest(.completed, tenant: "t1", id: 1), body: [])
        #expect(Set(completed.completedTimes?.keys.map { $0 } ?? []) == Set(manifests.suffix(2)))
    }

    /// A manifest the complete records do not account for (a snapshot still arriving, or a
    /// listing of records that came back partial) stops every pack deletion: the remote never
    /// deletes on the word of one listing.
    @Test func aManifestWithoutItsRecordHoldsEveryPack() async throws {
        let backend = InMemoryBackend()
        let receiver = RemoteReceiver(backend: backend)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for day in 0..<4 {
            let pack = Array("pack \(day)".utf8), manifest = Array("manifest \(day)".utf8)
            _ = await receiver.handle(peer: "a", request: LinkRequest(.putPack(name: hash(pack)), tenant: "t1", id: 1), body: pack)
            _ = await receiver.handle(peer: "a", request: LinkRequest(.putObject(path: "snapshots/\(hash(manifest))"), tenant: "t1", id: 1),
                                      body: manifest)
            #expect(await receiver.handle(peer: "a", request: LinkRequest(.complete(SnapshotCompletion(
                                                                          snapshot: hash(manifest), time: start.addingTimeInterval(Double(day) * 86400),
                                                                          packs: [hash(pack)])), tenant: "t1", id: 1),
                                          body: []).ok)
        }
        let arriving = Array("manifest still arriving".utf8)
        _ = await receiver.handle(peer: "a", request: LinkRequest(.putObject(path: "snapshots/\(hash(arriving))"), tenant: "t1", id: 1), body: arriving)
        let report = try await receiver.applyRetention(tenant: "t1", policy: RetentionPolicy(keepLast: 1),
                                                       timeZone: TimeZone(identifier: "UTC")!, now: start.addingTimeInterval(5 * 86400))
        #expect(report.removed.count == 3)
        #expect(report.packsDeleted == 0 && report.packsHeldBack)
        #expect(try await backend.list("tenants/t1/packs").count == 4)
    }
}

/// A twin's receiver follows its active site's deletions, within what keeps its own copy whole.
@Suite struct TwinMirrorReceiverTests {
    func hash(_ bytes: [UInt8]) -> String { Hex.encode(Hasher256.hash(.sha256, bytes)) }

    func store(_ receiver: RemoteReceiver, pack: [UInt8], manifest: [UInt8], packs: [String]? = nil) async {
        _ = await receiver.handle(peer: "a", request: LinkRequest(.putPack(name: hash(pack)), tenant: "t1", id: 1), body: pack)
        _ = await receiver.handle(peer: "a", request: LinkRequest(.putObject(path: "snapshots/\(hash(manifest))"), tenant: "t1", id: 1),
                                  body: manifest)
        let complete = LinkRequest(.complete(SnapshotCompletion(snapshot: hash(manifest), time: Date(), packs: packs ?? [hash(pack)])), tenant: "t1", id: 1)
        #expect(await receiver.handle(peer: "a", request: complete, body: []).ok)
    }

    /// A repack moved a snapshot's data: its restated record names the new pack, and only
    /// then may the old one go.
    @Test func aRestatedRecordReleasesTheOldPack() async throws {
        let backend = InMemoryBackend()
        let receiver = RemoteReceiver(backend: backend, mirror: true)
        let old = Array("old pack".utf8), new = Array("repacked".utf8), manifest = Array("m".utf8)
        await store(receiver, pack: old, manifest: manifest)
        var drop = LinkRequest(.dropPacks([hash(old)]), tenant: "t1", id: 1)
        #expect(await receiver.handle(peer: "a", request: drop, body: []).packNames == [hash(old)])
        await store(receiver, pack: new, manifest: manifest)
        drop.id = 2
        #expect(await receiver.handle(peer: "a", request: drop, body: []).packNames == [])
        #expect(try await backend.list("tenants/t1/packs") == ["tenants/t1/packs/\(hash(new).prefix(2))/\(hash(new))"])
    }

    /// A manifest without a complete record (one the twin wrote itself while the tenant was
    /// active there) means the twin cannot tell what it needs: no pack is deleted.
    @Test func aManifestWithoutItsRecordKeepsEveryPack() async throws {
        let backend = InMemoryBackend()
        let receiver = RemoteReceiver(backend: backend, mirror: true)
        let pack = Array("p".utf8)
        await store(receiver, pack: pack, manifest: Array("m".utf8), packs: [])
        try await backend.write("tenants/t1/snapshots/\(hash(Array("own".utf8)))", Array("own".utf8), overwrite: false)
        await receiver.invalidate("t1")
        let answer = await receiver.handle(peer: "a", request: LinkRequest(.dropPacks([hash(pack)]), tenant: "t1", id: 1), body: [])
        #expect(answer.ok && answer.packNames == [hash(pack)])
        #expect(try await backend.list("tenants/t1/packs").count == 1)
    }
}

/// A reader at this site (a restore, drill, export or mount) holds the tenant lock shared: the
/// deletions the receiver makes wait for it, so no pack is deleted under a read.
@Suite struct ReceiverDeletionLockTests {
    func hash(_ bytes: [UInt8]) -> String { Hex.encode(Hasher256.hash(.sha256, bytes)) }

    func complete(_ receiver: RemoteReceiver, pack: [UInt8], manifest: [UInt8], time: Date) async {
        _ = await receiver.handle(peer: "a", request: LinkRequest(.putPack(name: hash(pack)), tenant: "t1", id: 1), body: pack)
        _ = await receiver.handle(peer: "a", request: LinkRequest(.putObject(path: "snapshots/\(hash(manifest))"), tenant: "t1", id: 1),
                                  body: manifest)
        let complete = LinkRequest(.complete(SnapshotCompletion(snapshot: hash(manifest), time: time, packs: [hash(pack)])), tenant: "t1", id: 1)
        #expect(await receiver.handle(peer: "a", request: complete, body: []).ok, "a reader must not stop a snapshot arriving")
    }

    @Test func aTwinsDeletionsWaitForItsReaders() async throws {
        let backend = InMemoryBackend()
        let receiver = RemoteReceiver(backend: backend, mirror: true)
        let old = Array("old".utf8), new = Array("new".utf8), first = Array("m1".utf8), second = Array("m2".utf8)
        await complete(receiver, pack: old, manifest: first, time: Date(timeIntervalSince1970: 1_800_000_000))
        await complete(receiver, pack: new, manifest: second, time: Date(timeIntervalSince1970: 1_800_086_400))
        let reader = try await backend.lock(TenantLayout("t1").lock, exclusive: false)
        let forget = LinkRequest(.dropSnapshots([hash(first)]), tenant: "t1", id: 2)
        let prune = LinkRequest(.dropPacks([hash(old)]), tenant: "t1", id: 3)
        for request in [forget, prune] {
            let answer = await receiver.handle(peer: "a", request: request, body: [])
            #expect(answer.refusal?.contains("is being read at this site") == true, "\(request.operation): \(answer.answer)")
        }
        #expect(try await backend.list(TenantLayout("t1").packs).count == 2)
        #expect(try await backend.list(TenantLayout("t1").snapshots).count == 2)
        await reader.release()
        // Sent again once the reader is gone (the shipper keeps them queued), they apply.
        #expect(await receiver.handle(peer: "a", request: forget, body: []).ok)
        #expect(await receiver.handle(peer: "a", request: prune, body: []).packNames == [])
        #expect(try await backend.list(TenantLayout("t1").packs) == [TenantLayout("t1").pack(hash(new))])
    }

    @Test func theRemotesRetentionIsDeferredWhileATenantIsRead() async throws {
        let backend = InMemoryBackend()
        let receiver = RemoteReceiver(backend: backend, retention: { _ in (RetentionPolicy(keepLast: 1), TimeZone(identifier: "UTC")!) })
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let reader = try await backend.lock(TenantLayout("t1").lock, exclusive: false)
        for day in 0..<2 {
            await complete(receiver, pack: Array("pack \(day)".utf8), manifest: Array("m \(day)".utf8), time: start.addingTimeInterval(Double(day) * 86400))
        }
        #expect(try await backend.list(TenantLayout("t1").packs).count == 2, "retention deleted a pack under a reader")
        await reader.release()
        await complete(receiver, pack: Array("pack 2".utf8), manifest: Array("m 2".utf8), time: start.addingTimeInterval(2 * 86400))
        #expect(try await backend.list(TenantLayout("t1").packs) == [TenantLayout("t1").pack(hash(Array("pack 2".utf8)))])
    }
}
