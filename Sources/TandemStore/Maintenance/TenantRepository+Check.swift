import Foundation
import TandemCodecs
import TandemCore

/// One thing `check` found wrong, and where.
public struct CheckProblem: Sendable, Codable, Equatable {
    /// The damaged object, e.g. `pack 3fa1…` or `snapshot 9c2e…`.
    public let object: String
    public let problem: String
}

/// What `check` examined and found.
public struct CheckReport: Sendable, Codable {
    public var tenant: String
    public var readData: Bool
    public var packs = 0
    public var blobs = 0
    public var snapshots = 0
    public var bytesRead: Int64 = 0
    public var problems: [CheckProblem] = []
    /// Blobs that failed verification and were taken out of the index for good (recorded under
    /// `damaged/`), so that the next backup stores their chunks again.
    public var blobsTakenOutOfIndex = 0
    public var ok: Bool { problems.isEmpty }
}

extension TenantRepository {
    /// Checks structure: every pack's trailer opens and agrees with the index, every manifest is
    /// authentic, safe to restore and every chunk it references is indexed. With `readData`, also
    /// hashes every pack against its name and opens, decompresses and re-hashes every blob; a
    /// blob that fails is recorded damaged and leaves the index (``recordDamage(pack:blobs:reason:now:)``).
    /// Holds the tenant lock shared, so that no prune deletes a pack it is about to read (and
    /// waits up to `lockWait` for a running forget or prune to finish).
    public func check(readData: Bool, lockWait: Duration = .seconds(600),
                      progress: @escaping @Sendable (Int) -> Void = { _ in }) async throws -> CheckReport {
        try await holdingLock(exclusive: false, waiting: lockWait) { try await runCheck(readData: readData, progress: progress) }
    }

    private func runCheck(readData: Bool, progress: @escaping @Sendable (Int) -> Void) async throws -> CheckReport {
        var report = CheckReport(tenant: name, readData: readData)
        try await reconcile()
        var locations = try index.allLocations()
        var indexedByPack: [String: [ChunkID: BlobLocation]] = [:]
        for (id, location) in locations { indexedByPack[location.pack, default: [:]][id] = location }
        let sealer = try BlobSealer(keys: keys, compression: settings.compression)
        // Packs are checked on every core at once, each task with its own sealer; the findings
        // are merged in pack order, so the report reads the same however the tasks interleave.
        let names = try await storedPackNames()
        var results = [PackCheck?](repeating: nil, count: names.count)
        try await withThrowingTaskGroup(of: (Int, PackCheck).self) { group in
            var next = 0
            while next < min(names.count, max(1, ProcessInfo.processInfo.activeProcessorCount)) {
                let index = next, indexed = indexedByPack[names[index]] ?? [:]
                group.addTask { (index, try await self.checkPack(names[index], indexed: indexed, readData: readData, progress: progress)) }
                next += 1
            }
            while let (index, result) = try await group.next() {
                results[index] = result
                if next < names.count {
                    let index = next, indexed = indexedByPack[names[index]] ?? [:]
                    group.addTask { (index, try await self.checkPack(names[index], indexed: indexed, readData: readData, progress: progress)) }
                    next += 1
                }
            }
        }
        for (name, result) in zip(names, results) {
            guard let result else { continue }
            report.packs += 1
            report.blobs += result.blobs
            report.bytesRead += result.bytesRead
            report.problems += result.problems
            if !result.damaged.isEmpty {
                try await recordDamage(pack: name, blobs: result.damaged, reason: "check --read-data: \(result.firstDamage)")
                report.blobsTakenOutOfIndex += result.damaged.count
            }
        }
        // The snapshots that lost chunks to damage just found are named below.
        if report.blobsTakenOutOfIndex > 0 { locations = try index.allLocations() }
        for id in try await storedSnapshotIDs() {
            report.snapshots += 1
            do {
                let manifest = try await loadManifest(id)
                if let problem = TreeLayout.firstProblem(manifest.tree ?? []) {
                    report.problems.append(CheckProblem(object: "snapshot \(id)", problem: "unsafe to restore: \(problem)"))
                }
                var missing = 0
                var first: ChunkID?
                try await referencedBlobs(of: manifest, sealer: sealer, locations: locations) { blob in
                    if locations[blob] == nil {
                        missing += 1
                        first = first ?? blob
                    }
                }
                if let first {
                    report.problems.append(CheckProblem(object: "snapshot \(id)",
                                                        problem: "references \(missing) chunk(s) stored in no pack, first \(first.hex.prefix(16))"))
                }
            } catch {
                report.problems.append(CheckProblem(object: "snapshot \(id)", problem: "\(error)"))
            }
        }
        return report
    }
}

/// What checking one pack found.
struct PackCheck: Sendable {
    var blobs = 0
    var bytesRead: Int64 = 0
    var problems: [CheckProblem] = []
    /// Blobs that failed verification, to be recorded damaged.
    var damaged: [ChunkID] = []
    var firstDamage = ""
}

extension TenantRepository {
    /// Checks one pack: its trailer against the index and, with `readData`, its bytes against
    /// its name and every blob and group member opened, decompressed and re-hashed.
    func checkPack(_ name: String, indexed: [ChunkID: BlobLocation], readData: Bool,
                   progress: @Sendable (Int) -> Void) async throws -> PackCheck {
        var result = PackCheck()
        let object = "pack \(name)"
        let entries: [PackEntry]
        do {
            entries = try await packEntries(name).entries
        } catch {
            result.problems.append(CheckProblem(object: object, problem: "\(error)"))
            return result
        }
        let inPack = Dictionary(entries.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for (id, location) in indexed {
            guard let entry = inPack[id], entry.offset == location.offset, entry.length == location.length,
                  entry.inner == location.inner else {
                result.problems.append(CheckProblem(object: object, problem: "index entry for blob \(id.hex.prefix(16)) does not match the pack trailer"))
                continue
            }
        }
        result.blobs = entries.count
        guard readData else {
            // The header's magic and version, which --read-data checks with the rest.
            do { try PackFormat.checkHeader(try await backend.read(packPath(name), offset: 0, length: PackFormat.headerLength)) } catch {
                result.problems.append(CheckProblem(object: object, problem: "\(error)"))
            }
            return result
        }
        let bytes: [UInt8]
        do { bytes = try await backend.read(packPath(name)) } catch {
            result.problems.append(CheckProblem(object: object, problem: "\(error)"))
            return result
        }
        result.bytesRead = Int64(bytes.count)
        progress(bytes.count)
        if Hex.encode(Hasher256.hash(.sha256, bytes)) != name {
            result.problems.append(CheckProblem(object: object, problem: "contents do not hash to the pack's name"))
        }
        do { try PackFormat.checkHeader(Array(bytes.prefix(PackFormat.headerLength))) } catch {
            result.problems.append(CheckProblem(object: object, problem: "\(error)"))
        }
        let sealer = try BlobSealer(keys: keys, compression: settings.compression)
        for held in PackEntry.byFrame(entries) {
            do {
                try bytes.withUnsafeBytes { raw in
                    let sealed = UnsafeRawBufferPointer(rebasing: raw[held[0].offset ..< held[0].offset + held[0].length])
                    guard held[0].inner != nil else {
                        _ = try sealer.open(sealed, id: held[0].id, type: held[0].type, maximumLength: held[0].rawLength)
                        return
                    }
                    let reader = try ChunkGroupReader(sealed, sealer: sealer, type: held[0].type, for: held[0].id)
                    for member in held { _ = try reader.member(member.id, inner: member.inner!, length: member.rawLength, sealer: sealer) }
                    try reader.finish()
                }
            } catch {
                result.problems.append(CheckProblem(object: object, problem: "\(error)"))
                // None of a frame's members can be trusted once it fails.
                if isDamage(error) {
                    result.damaged += held.map(\.id)
                    result.firstDamage = result.firstDamage.isEmpty ? "\(error)" : result.firstDamage
                }
            }
        }
        return result
    }
}

extension Repository {
    /// What can be checked of a tenant without its key: every pack's header and footer, and with
    /// `readData` its SHA-256 against its name (what a remote site verifies).
    public func checkWithoutKey(tenant: String, readData: Bool) async throws -> CheckReport {
        var report = CheckReport(tenant: tenant, readData: readData)
        for path in try await backend.list(TenantLayout(tenant).packs) {
            let name = String(path.split(separator: "/").last!)
            guard name.count == 64 else { continue }
            report.packs += 1
            let object = "pack \(name)"
            do {
                let size = try await backend.size(path)
                if readData {
                    let bytes = try await backend.read(path)
                    report.bytesRead += Int64(bytes.count)
                    if Hex.encode(Hasher256.hash(.sha256, bytes)) != name {
                        report.problems.append(CheckProblem(object: object, problem: "contents do not hash to the pack's name"))
                    }
                }
                try PackFormat.checkHeader(try await backend.read(path, offset: 0, length: PackFormat.headerLength))
                _ = try PackFormat.trailerLength(footer: try await backend.read(path, offset: size - PackFormat.footerLength,
                                                                               length: PackFormat.footerLength), packSize: size)
            } catch {
                report.problems.append(CheckProblem(object: object, problem: "\(error)"))
            }
        }
        report.snapshots = try await backend.list(TenantLayout(tenant).snapshots).count
        return report
    }
}
