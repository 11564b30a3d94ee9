import Synchronization
import Foundation
import Testing
import TandemTestSupport
import TandemCore
@testable import TandemStore

@Suite struct RetentionAndPruneTests {
    @Test func forgetAndPruneKeepWhatRetentionSays() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        var image = imageBytes(2 << 20, seed: 11)
        let start = Date(timeIntervalSince1970: 1_770_000_000)
        var kept: [String: [UInt8]] = [:]
        var ids: [String] = []
        for day in 0..<6 {
            // Each day rewrites a different 256 KiB, so every snapshot has some data of its own.
            let offset = day * 300_000
            for i in offset ..< offset + 262_144 { image[i] = UInt8(truncatingIfNeeded: i &* (day + 3)) }
            write(image, to: dir.file("disk.img"))
            let result = try await tenant.backup(.stream(path: dir.file("disk.img")), options: smallPacks(),
                                                 now: start.addingTimeInterval(Double(day) * 86_400))
            ids.append(result.snapshotID)
            kept[result.snapshotID] = image
        }
        let dry = try await tenant.forget(policy: RetentionPolicy(keepLast: 2), dryRun: true, now: start, timeZone: TimeZone(identifier: "UTC")!)
        let listed = try await tenant.snapshots()
        #expect(dry.removed.isEmpty && listed.count == 6)
        let report = try await tenant.forget(policy: RetentionPolicy(keepLast: 2), dryRun: false, now: start,
                                             timeZone: TimeZone(identifier: "UTC")!)
        #expect(Set(report.removed) == Set(ids.prefix(4)))
        let keptDecisions = report.decisions.filter(\.keep).sorted { $0.time > $1.time }
        #expect(keptDecisions.map(\.reasons) == [["newest snapshot", "last snapshot"], ["last snapshot"]])
        let before = try await tenant.index.packs().values.reduce(0, +)
        var options = PruneOptions()
        options.packSize = 1 << 20
        let pruned = try await tenant.prune(options: options)
        #expect(pruned.blobsRemoved > 0)
        #expect(pruned.packsDeleted + pruned.packsRepacked > 0)
        let after = try await tenant.index.packs().values.reduce(0, +)
        #expect(after < before)
        let check = try await tenant.check(readData: true)
        #expect(check.ok, "\(check.problems)")
        for id in ids.suffix(2) {
            _ = try await tenant.restore(id, to: .path(dir.file("r-\(id)")), options: RestoreOptions())
            expectSameBytes(read(dir.file("r-\(id)")), kept[id])
        }
        // A second prune finds nothing more to do.
        let again = try await tenant.prune(options: options)
        #expect(again.packsDeleted == 0 && again.packsRepacked == 0)
    }

    @Test func pruneRegroupsTheLiveChunksOfPartlyDeadGroups() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir, compression: .zstd(level: 3))
        let first = imageBytes(3 << 20, seed: 21)
        write(first, to: dir.file("disk.img"))
        _ = try await tenant.backup(.stream(path: dir.file("disk.img")), options: smallPacks(), now: Date(timeIntervalSince1970: 1_770_000_000))
        let grouped = try await tenant.index.allLocations().values.filter { $0.inner != nil }
        #expect(grouped.count > 10, "text chunks are stored in group frames")
        // Rewrite the first half: its chunks die with the first snapshot, the rest stay live, so
        // every group frame that mixed both is partly dead.
        var second = first
        for i in 0 ..< second.count / 2 where second[i] != 0 { second[i] = UInt8(truncatingIfNeeded: i % 251 + 1) }
        write(second, to: dir.file("disk.img"))
        let kept = try await tenant.backup(.stream(path: dir.file("disk.img")), options: smallPacks(), now: Date(timeIntervalSince1970: 1_770_086_400))
        _ = try await tenant.forget(policy: RetentionPolicy(keepLast: 1), dryRun: false, now: Date(), timeZone: TimeZone(identifier: "UTC")!)
        let before = try await tenant.index.packs().values.reduce(0, +)
        var options = PruneOptions()
        options.packSize = 1 << 20
        options.repackThreshold = 0.05
        let pruned = try await tenant.prune(options: options)
        #expect(pruned.blobsRemoved > 0 && pruned.packsRepacked > 0)
        #expect(try await tenant.index.packs().values.reduce(0, +) < before)
        // The live members were compressed into new groups, not stored one by one.
        let after = try await tenant.index.allLocations().values
        #expect(after.filter { $0.inner != nil }.count > 10)
        let check = try await tenant.check(readData: true)
        #expect(check.ok, "\(check.problems)")
        _ = try await tenant.restore(kept.snapshotID, to: .path(dir.file("restored")), options: RestoreOptions())
        expectSameBytes(read(dir.file("restored")), second)
        // Nothing dead was carried into the new frames: a second prune finds no dead member.
        let again = try await tenant.prune(options: options)
        #expect(again.blobsRemoved == 0 && again.packsDeleted == 0, "\(again)")
    }

    @Test func pruneRefusesWhileABackupHoldsTheLock() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        let lock = try await tenant.lock(exclusive: false)
        await #expect(throws: BackendError.self) { _ = try await tenant.prune() }
        await lock.release()
        _ = try await tenant.prune()
    }

    /// Readers hold the lock shared: a prune that starts while a restore reads is refused (the
    /// restore finishes byte for byte), and a check or restore that starts while prune runs
    /// is refused at once rather than reading packs that vanish under it.
    @Test func pruneAndReadersExcludeEachOther() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        let image = imageBytes(4 << 20, seed: 21)
        write(image, to: dir.file("a"))
        let first = try await tenant.backup(.stream(path: dir.file("a")), options: smallPacks(), now: Date())
        write(imageBytes(4 << 20, seed: 22), to: dir.file("a"))
        _ = try await tenant.backup(.stream(path: dir.file("a")), options: smallPacks(), now: Date())
        // The first snapshot goes while it is restored, so prune has packs to delete: the ones the restore reads.
        let (started, starter) = AsyncStream.makeStream(of: Void.self)
        var options = RestoreOptions()
        options.workers = 1
        // The restore writes its first chunk, then waits until the prune has been tried.
        let gate = Gate()
        options.progress = { _ in
            starter.yield()
            while !gate.opened.load(ordering: .acquiring) { usleep(1000) }
        }
        let (slow, target, id) = (options, dir.file("restored"), first.snapshotID)
        let restoring = Task { try await tenant.restore(id, to: .path(target), options: slow) }
        for await _ in started { break }
        try FileManager.default.removeItem(atPath: dir.file("repo/tenants/acme/snapshots/" + first.snapshotID))
        await #expect(throws: BackendError.locked("tenants/acme/lock")) { _ = try await tenant.prune() }
        gate.opened.store(true, ordering: .releasing)
        _ = try await restoring.value
        #expect(read(dir.file("restored")) == image)

        // A reader waits for a running prune (up to its lockWait), then reads.
        let held = try await tenant.lock(exclusive: true)
        await #expect(throws: BackendError.locked("tenants/acme/lock")) { _ = try await tenant.check(readData: true, lockWait: .zero) }
        var impatient = RestoreOptions()
        impatient.lockWait = .milliseconds(300)
        await #expect(throws: BackendError.locked("tenants/acme/lock")) {
            _ = try await tenant.restore(first.snapshotID, to: .path(dir.file("again")), options: impatient)
        }
        let waiting = Task { try await tenant.check(readData: true) }
        try await Task.sleep(for: .milliseconds(500))
        await held.release()
        #expect(try await waiting.value.ok)
        #expect(try await tenant.prune().packsDeleted > 0)
        #expect(try await tenant.check(readData: true).ok)
    }

    @Test func interruptedBackupIsAdoptedByTheNext() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        let image = imageBytes(4 << 20, seed: 12)
        write(image, to: dir.file("disk.img"))
        _ = try await tenant.backup(.stream(path: dir.file("disk.img")), options: smallPacks(), now: Date())
        // Simulate a crash after the packs were written but before the index and manifest:
        // drop the index and the snapshot, keep the packs.
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: dir.file("repo/tenants/acme/index.sqlite" + suffix)) }
        for id in try FileManager.default.contentsOfDirectory(atPath: dir.file("repo/tenants/acme/snapshots")) {
            try FileManager.default.removeItem(atPath: dir.file("repo/tenants/acme/snapshots/" + id))
        }
        let fresh = try await reopen(dir)
        let again = try await fresh.backup(.stream(path: dir.file("disk.img")), options: smallPacks(), now: Date())
        #expect(again.summary.bytesNew == 0)
    }
}

/// A flag one task waits on and another sets.
final class Gate: Sendable {
    let opened = Atomic<Bool>(false)
}
