import Foundation
import GRDB
import Testing
import TandemCodecs
import TandemCore
import TandemTestSupport
@testable import TandemStore

/// What a restore checks per chunk. A chunk sealed on its own is authenticated by the AEAD,
/// whose associated data holds its ID: an index that points its ID at another blob fails
/// authentication, no re-hash needed. A chunk in a group frame is placed by the frame's member
/// table, inside the same AEAD: an index that points a member at another slice of its frame is
/// refused by the table, no re-hash needed. `verifyIDs` re-hashes everything.
@Suite struct RestoreVerificationTests {
    /// Half text (grouped), half random (sealed alone), for the GM suite.
    static func image() -> [UInt8] {
        let text = Array(String(repeating: "the tenant's ledger line, account 1234, amount 56.78\n", count: 40_000).utf8)
        var random = SeededRandom(seed: 99)
        return Array(text.prefix(2 << 20)) + (0..<(2 << 20)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    static func rows(_ path: String) throws -> [Row] {
        try DatabaseQueue(path: path).read { try Row.fetchAll($0, sql: "SELECT id, pack, offset, length, raw_length, inner FROM blobs ORDER BY pack, offset, inner") }
    }

    @Test func singlesAreAuthenticatedByTheirIDAndGroupMembersAreReHashed() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir, suite: .sm4gcm)
        let image = Self.image()
        write(image, to: dir.file("disk.img"))
        let backup = try await tenant.backup(.stream(path: dir.file("disk.img")), options: BackupOptions(), now: Date())
        for verifyIDs in [false, true] {
            var options = RestoreOptions()
            options.verifyIDs = verifyIDs
            _ = try await tenant.restore(backup.snapshotID, to: .path(dir.file("out-\(verifyIDs)")), options: options)
            expectSameBytes(read(dir.file("out-\(verifyIDs)")), image)
        }
        let indexPath = dir.file("repo/tenants/acme/index.sqlite")
        let rows = try Self.rows(indexPath)
        let singles = rows.filter { ($0["inner"] as Int?) == nil && ($0["raw_length"] as Int) >= 16_384 }
        let members = rows.filter { ($0["inner"] as Int?) != nil }
        try #require(singles.count >= 2 && members.count >= 2, "\(singles.count) singles, \(members.count) members")

        // Two single blobs' IDs swapped in the index: authentication fails, no hash needed.
        let queue = try DatabaseQueue(path: indexPath)
        let a: Data = singles[0]["id"], b: Data = singles[1]["id"]
        try await queue.write { db in
            try db.execute(sql: "UPDATE blobs SET id = ? WHERE id = ?", arguments: [Data(repeating: 0, count: 32), a])
            try db.execute(sql: "UPDATE blobs SET id = ? WHERE id = ?", arguments: [a, b])
            try db.execute(sql: "UPDATE blobs SET id = ? WHERE id = ?", arguments: [b, Data(repeating: 0, count: 32)])
        }
        do {
            _ = try await tenant.restore(backup.snapshotID, to: .path(dir.file("swapped")), options: RestoreOptions())
            Issue.record("a restore through swapped index rows succeeded")
        } catch let error as BlobError {
            let swapped = [ChunkID(bytes: Array(a)), ChunkID(bytes: Array(b))]
            #expect(swapped.map(BlobError.authenticationFailed).contains(error), "\(error)")
        }
    }

    @Test func aGroupMemberPointedAtAnotherSliceOfItsFrameIsRefusedByTheFramesTable() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir, suite: .sm4gcm)
        let image = Self.image()
        write(image, to: dir.file("disk.img"))
        let backup = try await tenant.backup(.stream(path: dir.file("disk.img")), options: BackupOptions(), now: Date())
        let indexPath = dir.file("repo/tenants/acme/index.sqlite")
        let members = try Self.rows(indexPath).filter { ($0["inner"] as Int?) != nil }
        try #require(members.count >= 2)
        // The first member is pointed at the second's slice (same frame, authentic bytes).
        let first: Data = members[0]["id"]
        let (inner, length): (Int, Int) = (members[1]["inner"], members[1]["raw_length"])
        try await DatabaseQueue(path: indexPath).write { db in
            try db.execute(sql: "UPDATE blobs SET inner = ?, raw_length = ? WHERE id = ?", arguments: [inner, length, first])
        }
        await #expect(throws: BlobError.malformed(ChunkID(bytes: Array(first)),
                                                  "is not where its group frame's member table places it (bytes \(inner)+\(length))")) {
            _ = try await tenant.restore(backup.snapshotID, to: .path(dir.file("moved")), options: RestoreOptions())
        }
    }
}
