import Foundation
import GRDB
import Testing
import TandemCore
import TandemTestSupport
@testable import TandemStore

@Suite struct IndexDatabaseTests {
    /// The snapshots table as schemas 1 and 2 made it (unchanged by either migration).
    static let snapshotsTableOfSchemas1And2 = """
        CREATE TABLE snapshots(
            id TEXT PRIMARY KEY, time REAL NOT NULL, kind TEXT NOT NULL, source TEXT NOT NULL,
            hostname TEXT NOT NULL, tags TEXT NOT NULL, parent TEXT, size INTEGER NOT NULL, files INTEGER NOT NULL);
        """
    private func id(_ byte: UInt8) -> ChunkID { ChunkID(bytes: [UInt8](repeating: byte, count: 32)) }

    private func entry(_ byte: UInt8, offset: Int) -> PackEntry {
        PackEntry(id: id(byte), type: .data, codec: .zstd, offset: offset, length: 100, rawLength: 200)
    }

    @Test func aVersion1IndexIsConvertedWithEveryLocation() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("index.sqlite")
        let packA = String(repeating: "a", count: 64), packB = String(repeating: "b", count: 64)
        // The schema-1 layout, as earlier versions created it.
        let old = try DatabaseQueue(path: path)
        try old.write { db in
            try db.execute(sql: """
                CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE packs(name TEXT PRIMARY KEY, size INTEGER NOT NULL, blobs INTEGER NOT NULL);
                CREATE TABLE blobs(
                    id BLOB PRIMARY KEY, pack TEXT NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
                    raw_length INTEGER NOT NULL) WITHOUT ROWID;
                CREATE INDEX blobs_by_pack ON blobs(pack);
                \(Self.snapshotsTableOfSchemas1And2)
                INSERT INTO meta VALUES ('schema', '1');
                """)
            try db.execute(sql: "INSERT INTO packs VALUES (?, 1000, 2), (?, 2000, 1)", arguments: [packA, packB])
            for (byte, pack, offset) in [(UInt8(1), packA, 16), (2, packA, 116), (3, packB, 16)] {
                try db.execute(sql: "INSERT INTO blobs VALUES (?, ?, ?, 100, 200)", arguments: [Data(id(byte).bytes), pack, offset])
            }
        }
        try old.close()

        let index = try IndexDatabase(path: path)
        #expect(try index.location(of: id(2)) == BlobLocation(pack: packA, offset: 116, length: 100, rawLength: 200))
        #expect(try index.location(of: id(3)) == BlobLocation(pack: packB, offset: 16, length: 100, rawLength: 200))
        #expect(try index.allLocations().count == 3)
        #expect(try index.packs() == [packA: 1000, packB: 2000])
        #expect(try index.allBlobIDs() == [id(1), id(2), id(3)])
        // Version 2 from now on, and the usual changes work on the converted tables.
        let packC = String(repeating: "c", count: 64)
        try index.addPack(name: packC, size: 3000, entries: [entry(4, offset: 16), entry(1, offset: 116)])
        #expect(try index.location(of: id(1))?.pack == packA)
        try index.repointBlobs(toPack: packC, size: 3000, entries: [entry(1, offset: 116), entry(2, offset: 216)])
        try index.removePacks([packA])
        #expect(try index.location(of: id(1)) == BlobLocation(pack: packC, offset: 116, length: 100, rawLength: 200))
        #expect(try index.location(of: id(2))?.pack == packC)
        #expect(try index.location(of: id(4))?.pack == packC)
        #expect(try index.packs() == [packB: 2000, packC: 3000])
        let reopened = try DatabaseQueue(path: path)
        #expect(try reopened.read { try String.fetchOne($0, sql: "SELECT value FROM meta WHERE key = 'schema'") } == "4")
    }

    @Test func aVersion2IndexGainsGroupPlaces() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("index.sqlite")
        let packA = String(repeating: "a", count: 64)
        // The schema-2 layout: packs numbered, blobs without a place in a group frame.
        let old = try DatabaseQueue(path: path)
        try old.write { db in
            try db.execute(sql: """
                CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE packs(
                    number INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, size INTEGER NOT NULL, blobs INTEGER NOT NULL);
                CREATE TABLE blobs(
                    id BLOB PRIMARY KEY, pack INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
                    raw_length INTEGER NOT NULL) WITHOUT ROWID;
                CREATE INDEX blobs_by_pack ON blobs(pack);
                \(Self.snapshotsTableOfSchemas1And2)
                INSERT INTO meta VALUES ('schema', '2');
                """)
            try db.execute(sql: "INSERT INTO packs VALUES (1, ?, 1000, 1)", arguments: [packA])
            try db.execute(sql: "INSERT INTO blobs VALUES (?, 1, 16, 100, 200)", arguments: [Data(id(1).bytes)])
        }
        try old.close()

        let index = try IndexDatabase(path: path)
        #expect(try index.location(of: id(1)) == BlobLocation(pack: packA, offset: 16, length: 100, rawLength: 200))
        #expect(try index.location(of: id(1))?.inner == nil)
        // Members of a group frame share the frame's place and keep their own.
        let packB = String(repeating: "b", count: 64)
        let members = [(UInt8(2), 0), (3, 200), (4, 400)].map { byte, inner in
            PackEntry(id: id(byte), type: .data, codec: .zstd, offset: 16, length: 300, rawLength: 200, inner: inner)
        }
        try index.addPack(name: packB, size: 400, entries: members)
        for (byte, inner) in [(UInt8(2), 0), (3, 200), (4, 400)] {
            #expect(try index.location(of: id(byte)) == BlobLocation(pack: packB, offset: 16, length: 300, rawLength: 200, inner: inner))
        }
        #expect(try index.allLocations()[id(3)]?.inner == 200)
        // Opening again changes nothing.
        let again = try IndexDatabase(path: path)
        #expect(try again.location(of: id(4))?.inner == 400)
        let reopened = try DatabaseQueue(path: path)
        #expect(try reopened.read { try String.fetchOne($0, sql: "SELECT value FROM meta WHERE key = 'schema'") } == "4")
    }

    @Test func rewritingAPackKeepsItsBlobs() throws {
        let dir = TemporaryDirectory()
        let index = try IndexDatabase(path: dir.file("index.sqlite"))
        let pack = String(repeating: "d", count: 64)
        try index.addPack(name: pack, size: 100, entries: [entry(7, offset: 16)])
        // The same pack recorded again (an adopted upload) must not orphan its blobs.
        try index.addPack(name: pack, size: 100, entries: [entry(7, offset: 16)])
        #expect(try index.location(of: id(7))?.pack == pack)
        try index.removePacks([pack])
        #expect(try index.location(of: id(7)) == nil)
        #expect(try index.allLocations().isEmpty)
    }
}
