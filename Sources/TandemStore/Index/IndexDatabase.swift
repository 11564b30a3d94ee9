import Foundation
import GRDB
import TandemCore

/// Where a stored blob is: its pack and byte range.
public struct BlobLocation: Sendable, Equatable {
    public let pack: String
    public let offset: Int
    public let length: Int
    public let rawLength: Int
    /// Set for a chunk in a group frame: `offset` and `length` are the frame's, and the chunk's
    /// plaintext starts `inner` bytes into the frame's plaintext.
    public var inner: Int? = nil
}

/// The index file is damaged (SQLite error 11 or 26): it is a cache, so the answer is to move
/// it aside (``IndexDatabase/moveAside(_:)``) and rebuild it from packs and manifests.
public struct IndexCorruption: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "the index \(path) is damaged (\(message))" }
}

/// A snapshot as the catalog lists it.
public struct SnapshotRecord: Sendable, Equatable, Codable {
    public let id: String
    public let time: Date
    public let kind: SourceKind
    public let source: String
    public let hostname: String
    public let tags: [String: String]
    public let parent: String?
    public let size: Int64
    public let files: Int
    /// Entries the backup could not read: more than 0 makes the snapshot incomplete.
    public var unreadable: Int = 0
}

/// A tenant's index (chunk ID -> pack, offset, length) and catalog (snapshots), in SQLite.
///
/// A cache: everything in it can be rebuilt from the packs' trailers and the snapshot
/// manifests (``TenantRepository/rebuildIndex()``), and it is reconciled with the backend each
/// time a repository is opened for writing. Rollback journal with `synchronous=FULL`, so a committed
/// transaction survives a power cut.
public final class IndexDatabase: Sendable {
    private let queue: DatabaseQueue
    /// 2: blobs name their pack by its row number, not its 64-character name (an index of
    /// image-v1's 20,167 blobs took 5.2 MB with names, half that with numbers).
    /// 3: blobs in group frames record their offset inside the frame (`inner`, NULL otherwise).
    /// 4: snapshots record how many entries their backup could not read (`unreadable`).
    public static let schemaVersion = 4
    /// The database file.
    public let path: String

    /// Opens (creating if needed) the database at `path`; a damaged one throws
    /// ``IndexCorruption`` (as does any later read or write that finds damage), which callers
    /// answer by moving it aside and opening again: it is rebuilt from the backend.
    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        // Several tandem processes may share a tenant (backups hold the lock shared): wait for
        // another's transaction instead of failing with SQLITE_BUSY.
        configuration.busyMode = .timeout(30)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            queue = try Self.open(path: path, configuration: configuration)
        } catch let error as DatabaseError {
            throw Self.translated(error, path: path)
        }
    }

    /// Moves a damaged database (and its WAL and shared-memory files) to `PATH.damaged`, so
    /// that the next open starts empty and is rebuilt from the backend; returns the new name.
    @discardableResult
    public static func moveAside(_ path: String) -> String {
        for suffix in ["", "-wal", "-shm"] {
            _ = rename(path + suffix, path + ".damaged" + suffix)
        }
        return path + ".damaged"
    }

    /// Runs a read or write, turning SQLite's "malformed" and "not a database" answers into
    /// ``IndexCorruption``, which callers answer by moving the file aside and rebuilding.
    private func mapped<Result>(_ body: () throws -> Result) throws -> Result {
        do {
            return try body()
        } catch let error as DatabaseError {
            throw Self.translated(error, path: path)
        }
    }

    /// SQLite's answers in the project's terms: damage is ``IndexCorruption``; a full disk is
    /// ``BackendError/noSpace(_:)`` and other I/O ``BackendError/io(_:_:)``, as for every
    /// other file (exit 7, not "unexpected").
    static func translated(_ error: DatabaseError, path: String) -> any Error {
        switch error.resultCode {
        case .SQLITE_CORRUPT, .SQLITE_NOTADB: IndexCorruption(path: path, message: "\(error.message ?? "\(error)")")
        case .SQLITE_FULL: BackendError.noSpace(path)
        case .SQLITE_IOERR, .SQLITE_CANTOPEN: BackendError.io(path, "SQLite: \(error.message ?? "\(error)")")
        default: error
        }
    }

    private func read<Result>(_ body: (Database) throws -> Result) throws -> Result {
        try mapped { try queue.read(body) }
    }

    private func write<Result>(_ body: (Database) throws -> Result) throws -> Result {
        try mapped { try queue.write(body) }
    }

    private static func open(path: String, configuration: Configuration) throws -> DatabaseQueue {
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        // A rollback journal, not WAL: WAL's shared-memory index (`-shm`) is written through
        // mmap, and on a full file system (1 KiB blocks under 4 KiB pages) a fault there is
        // SIGBUS, not an error. An index left in WAL mode by an older version is converted when
        // no other process has it open (otherwise it stays WAL this time).
        try queue.writeWithoutTransaction { db in
            if (try? String.fetchOne(db, sql: "PRAGMA journal_mode = TRUNCATE")) == nil {
                _ = try? String.fetchOne(db, sql: "PRAGMA journal_mode")
            }
        }
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            let found = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'schema'")
            if found == "1" { try migrateFromVersion1(db) }
            if found == "1" || found == "2" {
                try db.execute(sql: "ALTER TABLE blobs ADD COLUMN inner INTEGER; UPDATE meta SET value = '3' WHERE key = 'schema'")
            }
            if ["1", "2", "3"].contains(found) {
                try db.execute(sql: "ALTER TABLE snapshots ADD COLUMN unreadable INTEGER NOT NULL DEFAULT 0; UPDATE meta SET value = '4' WHERE key = 'schema'")
            }
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS packs(
                    number INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, size INTEGER NOT NULL, blobs INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS blobs(
                    id BLOB PRIMARY KEY, pack INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
                    raw_length INTEGER NOT NULL, inner INTEGER) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS blobs_by_pack ON blobs(pack);
                CREATE TABLE IF NOT EXISTS snapshots(
                    id TEXT PRIMARY KEY, time REAL NOT NULL, kind TEXT NOT NULL, source TEXT NOT NULL,
                    hostname TEXT NOT NULL, tags TEXT NOT NULL, parent TEXT, size INTEGER NOT NULL, files INTEGER NOT NULL,
                    unreadable INTEGER NOT NULL DEFAULT 0);
                INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', '\(schemaVersion)');
                """)
        }
        return queue
    }

    /// Moves a version-1 index (blobs naming their pack) to version 2 in the open transaction.
    private static func migrateFromVersion1(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE packs RENAME TO packs_v1;
            ALTER TABLE blobs RENAME TO blobs_v1;
            DROP INDEX IF EXISTS blobs_by_pack;
            CREATE TABLE packs(
                number INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, size INTEGER NOT NULL, blobs INTEGER NOT NULL);
            CREATE TABLE blobs(
                id BLOB PRIMARY KEY, pack INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
                raw_length INTEGER NOT NULL) WITHOUT ROWID;
            INSERT INTO packs(name, size, blobs) SELECT name, size, blobs FROM packs_v1;
            INSERT INTO blobs(id, pack, offset, length, raw_length)
                SELECT b.id, p.number, b.offset, b.length, b.raw_length FROM blobs_v1 b JOIN packs p ON p.name = b.pack;
            DROP TABLE blobs_v1;
            DROP TABLE packs_v1;
            UPDATE meta SET value = '2' WHERE key = 'schema';
            """)
    }

    /// The row number of pack `name`, recording or updating its size and blob count.
    private static func packNumber(_ db: Database, name: String, size: Int, blobs: Int) throws -> Int64 {
        try db.execute(sql: """
            INSERT INTO packs(name, size, blobs) VALUES (?, ?, ?)
                ON CONFLICT(name) DO UPDATE SET size = excluded.size, blobs = excluded.blobs
            """, arguments: [name, size, blobs])
        guard let number = try Int64.fetchOne(db, sql: "SELECT number FROM packs WHERE name = ?", arguments: [name]) else {
            throw DatabaseError(message: "pack \(name) vanished from the index")
        }
        return number
    }

    // MARK: - Packs and blobs

    /// Records a durable pack and its blobs in one transaction. A blob already indexed in
    /// another pack keeps its old location (the copy here is then dead weight for prune).
    public func addPack(name: String, size: Int, entries: [PackEntry]) throws {
        try write { db in
            let pack = try Self.packNumber(db, name: name, size: size, blobs: entries.count)
            let statement = try db.makeStatement(sql: "INSERT OR IGNORE INTO blobs(id, pack, offset, length, raw_length, inner) VALUES (?, ?, ?, ?, ?, ?)")
            for entry in entries {
                try statement.execute(arguments: [Data(entry.id.bytes), pack, entry.offset, entry.length, entry.rawLength, entry.inner])
            }
        }
    }

    /// Points the given blobs at a new pack (after repacking), in one transaction with the pack row.
    public func repointBlobs(toPack name: String, size: Int, entries: [PackEntry]) throws {
        try write { db in
            let pack = try Self.packNumber(db, name: name, size: size, blobs: entries.count)
            let statement = try db.makeStatement(sql: "INSERT OR REPLACE INTO blobs(id, pack, offset, length, raw_length, inner) VALUES (?, ?, ?, ?, ?, ?)")
            for entry in entries {
                try statement.execute(arguments: [Data(entry.id.bytes), pack, entry.offset, entry.length, entry.rawLength, entry.inner])
            }
        }
    }

    /// Forgets packs and every blob still pointing into them.
    public func removePacks(_ names: [String]) throws {
        try write { db in
            for name in names {
                try db.execute(sql: "DELETE FROM blobs WHERE pack = (SELECT number FROM packs WHERE name = ?)", arguments: [name])
                try db.execute(sql: "DELETE FROM packs WHERE name = ?", arguments: [name])
            }
        }
    }

    /// Forgets blobs found damaged in `pack` (a copy elsewhere keeps its row).
    public func removeBlobs(_ ids: [ChunkID], inPack pack: String) throws {
        try write { db in
            let statement = try db.makeStatement(sql: "DELETE FROM blobs WHERE id = ? AND pack = (SELECT number FROM packs WHERE name = ?)")
            for id in ids { try statement.execute(arguments: [Data(id.bytes), pack]) }
        }
    }

    public func location(of id: ChunkID) throws -> BlobLocation? {
        try read { db in
            try Row.fetchOne(db, sql: """
                SELECT p.name, b.offset, b.length, b.raw_length, b.inner FROM blobs b JOIN packs p ON p.number = b.pack WHERE b.id = ?
                """,
                             arguments: [Data(id.bytes)]).map {
                BlobLocation(pack: $0[0], offset: $0[1], length: $0[2], rawLength: $0[3], inner: $0[4])
            }
        }
    }

    /// Every indexed blob's location.
    public func allLocations() throws -> [ChunkID: BlobLocation] {
        try read { db in
            // One String per pack, shared by its blobs' locations.
            var names: [Int64: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT number, name FROM packs") { names[row[0]] = row[1] }
            var result: [ChunkID: BlobLocation] = [:]
            result.reserveCapacity(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM blobs") ?? 0)
            let rows = try Row.fetchCursor(db, sql: "SELECT id, pack, offset, length, raw_length, inner FROM blobs")
            while let row = try rows.next() {
                let data: Data = row[0]
                guard let pack = names[row[1]] else { continue }
                result[ChunkID(bytes: data)] = BlobLocation(pack: pack, offset: row[2], length: row[3], rawLength: row[4], inner: row[5])
            }
            return result
        }
    }

    /// Every indexed blob ID, in the index's order (by ID), in an array of exactly their count.
    public func allBlobIDs() throws -> [ChunkID] {
        try read { db in
            var result: [ChunkID] = []
            result.reserveCapacity(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM blobs") ?? 0)
            let rows = try Data.fetchCursor(db, sql: "SELECT id FROM blobs ORDER BY id")
            while let data = try rows.next() { result.append(ChunkID(bytes: data)) }
            return result
        }
    }

    /// Pack name -> size.
    public func packs() throws -> [String: Int] {
        try read { db in
            var result: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, size FROM packs") { result[row[0]] = row[1] }
            return result
        }
    }

    // MARK: - Snapshots

    public func addSnapshot(_ record: SnapshotRecord) throws {
        let tags = String(decoding: try JSONEncoder().encode(record.tags), as: UTF8.self)
        try write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO snapshots(id, time, kind, source, hostname, tags, parent, size, files, unreadable)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [record.id, record.time.timeIntervalSince1970, record.kind.rawValue, record.source,
                                 record.hostname, tags, record.parent, record.size, record.files, record.unreadable])
        }
    }

    public func removeSnapshot(_ id: String) throws {
        try write { db in try db.execute(sql: "DELETE FROM snapshots WHERE id = ?", arguments: [id]) }
    }

    /// All snapshots, oldest first.
    public func snapshots() throws -> [SnapshotRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id, time, kind, source, hostname, tags, parent, size, files, unreadable FROM snapshots ORDER BY time, id").map { row in
                let tagsText: String = row[5]
                let tags = (try? JSONDecoder().decode([String: String].self, from: Data(tagsText.utf8))) ?? [:]
                return SnapshotRecord(id: row[0], time: Date(timeIntervalSince1970: row[1]),
                                      kind: SourceKind(rawValue: row[2]) ?? .stream, source: row[3], hostname: row[4],
                                      tags: tags, parent: row[6], size: row[7], files: row[8], unreadable: row[9])
            }
        }
    }
}
