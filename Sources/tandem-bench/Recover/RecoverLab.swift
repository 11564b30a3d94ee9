import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The repositories and processes of `tandem-bench recover`: a Tandem repository holding
/// image-v1 and tree-v1 (and a restic one holding tree-v1), and the measured steps on them.
final class RecoverLab {
    /// What one step of a round measures.
    enum Part { case restore, serve, dump, mount }

    let root: String
    let tandemctl: String
    let dataset: Dataset
    let restic: String?
    let nbdcopy: String?
    /// GNU tar, to read tree-v1 through a mount (nil: the mount is skipped).
    let tar: String?
    let cacheMiB: Int
    private let logs: String
    private let passphrase = "tandem-bench-passphrase"
    private var imageID = ""
    private var treeID = ""
    private var resticID = ""
    private var imageDigest = ""

    private var repository: String { root + "/tandem" }
    private var keyFile: String { root + "/tenant.key" }
    private var resticRepository: String { root + "/restic" }
    private var tandemEnvironment: [String: String] { ["TANDEM_PASSPHRASE": passphrase] }
    private var resticEnvironment: [String: String] { ["RESTIC_PASSWORD": passphrase, "RESTIC_CACHE_DIR": root + "/restic-cache"] }

    init(root: String, tandemctl: String, dataset: Dataset, restic: String?, nbdcopy: String?, tar: String?, cacheMiB: Int) throws {
        self.root = root
        self.tandemctl = tandemctl
        self.dataset = dataset
        self.restic = restic
        self.nbdcopy = nbdcopy
        self.tar = tar
        self.cacheMiB = cacheMiB
        logs = root + "/logs"
    }

    /// Backs up image-v1 and tree-v1 with Tandem, tree-v1 with restic.
    func prepare() throws {
        Log.info("backing up image-v1 and tree-v1 for the recovery steps")
        _ = try tandem(["init", "--repo", repository, "--json"])
        _ = try tandem(["tenant", "create", "--repo", repository, "--tenant", "bench", "--json"])
        imageID = try snapshotID(tandem(["backup", "--repo", repository, "--tenant", "bench", dataset.imageV1, "--json"]))
        treeID = try snapshotID(tandem(["backup", "--repo", repository, "--tenant", "bench", dataset.treeV1, "--json"]))
        // The server opens the tenant with a key file, as tandemd does (a passphrase adds its KDF's cost).
        var key = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in key.indices { key[index] = UInt8.random(in: 0...255, using: &generator) }
        FileManager.default.createFile(atPath: keyFile, contents: Data(key), attributes: [.posixPermissions: 0o600])
        _ = try tandem(["key", "add", "--repo", repository, "--tenant", "bench", "--new-key-file", keyFile])
        if let restic {
            let v2 = ResticTool.supportsCompression(binary: restic, scratch: logs)
            _ = try ChildProcess.checked([restic, "-r", resticRepository, "init"] + (v2 ? ["--repository-version", "2"] : []),
                                         environment: resticEnvironment, scratch: logs)
            let backup = try ChildProcess.checked([restic, "-r", resticRepository, "backup", "--json"] + (v2 ? ["--compression", "auto"] : [])
                                                  + [dataset.treeV1], environment: resticEnvironment, scratch: logs)
            for line in String(decoding: backup.stdout, as: UTF8.self).split(separator: "\n").reversed() {
                if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let id = object["snapshot_id"] as? String {
                    resticID = id
                    break
                }
            }
            guard !resticID.isEmpty else { throw BenchError("restic backup printed no snapshot_id") }
        }
        if nbdcopy != nil { imageDigest = try Files.sha256(dataset.imageV1) }
    }

    /// Runs one part of a round and fills its figures in; `round` decides the order of the
    /// two dumps, and round 1 also checks the copied image's bytes.
    func measure(_ part: Part, into figures: inout Recover.Round, reads: Int, round: Int) throws {
        Files.warm(repository)
        switch part {
        case .restore:
            let target = root + "/restored.raw"
            try Files.remove(target)
            let child = try tandem(["restore", "--repo", repository, "--tenant", "bench", imageID, "--target", target, "--json"])
            figures.restoreSeconds = child.wallSeconds
            try Files.remove(target)
        case .serve:
            try serve(into: &figures, reads: reads, verify: round == 1)
        case .dump:
            let tandemFirst = restic == nil || round % 2 == 1
            if tandemFirst { try dumpTar(into: &figures) }
            if let restic {
                Files.warm(resticRepository)
                let child = try ChildProcess.checked([restic, "-r", resticRepository, "dump", resticID, dataset.treeV1],
                                                     environment: resticEnvironment, scratch: logs, stdoutPath: root + "/restic.tar")
                figures.resticDumpSeconds = child.wallSeconds
                figures.resticDumpPeakRSS = child.peakRSSBytes
                try Files.remove(root + "/restic.tar")
            }
            if !tandemFirst { try dumpTar(into: &figures) }
        case .mount:
            try mount(into: &figures)
        }
    }

    /// A `tandemctl mount` of the tenant: GNU tar of tree-v1's snapshot through it to a file,
    /// cold, then again warm (the kernel's cache); the mount's peak RSS once it is stopped.
    /// Skipped where /dev/fuse or tar is missing.
    private func mount(into figures: inout Recover.Round) throws {
        guard let tar, access("/dev/fuse", R_OK | W_OK) == 0 else { return }
        let point = root + "/mnt"
        try Files.makeDirectory(point)
        let mounter = try ChildProcess.start([tandemctl, "mount", "--repo", repository, "--tenant", "bench", "--key-file", keyFile, point,
                                              "--cache-mib", String(cacheMiB)], scratch: logs)
        var stopped = false
        defer {
            if !stopped {
                kill(mounter.pid, SIGKILL)
                _ = try? ChildProcess.wait(mounter)
            }
        }
        let deadline = Monotonic.now() + 60
        var directory: String?
        while directory == nil {
            directory = (try? FileManager.default.contentsOfDirectory(atPath: point + "/snapshots"))?.first { $0.hasSuffix(String(treeID.prefix(8))) }
            if directory == nil {
                guard Monotonic.now() < deadline else { throw BenchError("the mount of the bench tenant did not appear within 60 s") }
                usleep(50_000)
            }
        }
        let archive = root + "/mount.tar"
        for warm in [false, true] {
            let child = try ChildProcess.checked([tar, "-c", "-f", archive, "-C", point + "/snapshots/" + directory!, "."], scratch: logs)
            if warm { figures.mountTarWarmSeconds = child.wallSeconds } else { figures.mountTarColdSeconds = child.wallSeconds }
            try Files.remove(archive)
        }
        kill(mounter.pid, SIGTERM)
        stopped = true
        figures.mountPeakRSS = try ChildProcess.wait(mounter).peakRSSBytes
    }

    /// `tandemctl dump` of tree-v1 as tar, to a file.
    private func dumpTar(into figures: inout Recover.Round) throws {
        Files.warm(repository)
        let child = try tandem(["dump", "--repo", repository, "--tenant", "bench", treeID], stdoutPath: root + "/dump.tar")
        figures.dumpTarSeconds = child.wallSeconds
        figures.dumpTarPeakRSS = child.peakRSSBytes
        try Files.remove(root + "/dump.tar")
    }

    /// One `tandemctl serve` session: first read, random reads cold and warm, nbdcopy; the
    /// server's peak RSS once it is stopped.
    private func serve(into figures: inout Recover.Round, reads: Int, verify: Bool) throws {
        let socket = root + "/serve.sock"
        unlink(socket)
        let server = try ChildProcess.start([tandemctl, "serve", "--repo", repository, "--tenant", "bench", "--key-file", keyFile, imageID,
                                             "--nbd", "unix:" + socket, "--cache-mib", String(cacheMiB)], scratch: logs)
        var stopped = false
        defer {
            if !stopped {
                kill(server.pid, SIGKILL)
                _ = try? ChildProcess.wait(server)
            }
        }
        do {
            let reader = try NBDReader(socket: socket, deadline: Monotonic.now() + 60)
            try reader.read(offset: 0, length: 4096)
            figures.firstReadSeconds = Monotonic.now() - server.start
            var random = SeededGenerator(seed: 20_261_207)
            let blocks = reader.size / 4096
            let cold = try timedReads(reader, count: reads, blocks: blocks, using: &random)
            // The first half of the cache, read whole once, then read at random.
            let region = min(blocks, UInt64(cacheMiB) << 20 / 2 / 4096)
            var offset: UInt64 = 0
            while offset < region * 4096 {
                let length = UInt32(min(256 << 10, region * 4096 - offset))
                try reader.read(offset: offset, length: length)
                offset += UInt64(length)
            }
            let warm = try timedReads(reader, count: reads, blocks: region, using: &random)
            reader.disconnect()
            (figures.coldP50Milliseconds, figures.coldP99Milliseconds) = Self.percentiles(cold)
            (figures.warmP50Milliseconds, figures.warmP99Milliseconds) = Self.percentiles(warm)
            if let nbdcopy {
                let copy = root + "/copy.raw"
                try Files.remove(copy)
                let child = try ChildProcess.checked([nbdcopy, "nbd+unix:///?socket=" + socket, copy], scratch: logs)
                figures.nbdcopySeconds = child.wallSeconds + (try Files.fsync(copy))
                if verify, try Files.sha256(copy) != imageDigest {
                    throw BenchError("COPY MISMATCH: nbdcopy of the served image-v1 differs from the source")
                }
                try Files.remove(copy)
                // The same copy with nothing written: what the server alone keeps up with.
                let null = try ChildProcess.checked([nbdcopy, "nbd+unix:///?socket=" + socket, "null:"], scratch: logs)
                figures.nbdcopyNullSeconds = null.wallSeconds
            }
        }
        kill(server.pid, SIGTERM)
        stopped = true
        figures.serverPeakRSS = try ChildProcess.wait(server).peakRSSBytes
    }

    /// Milliseconds of `count` 4 KiB reads at random blocks below `blocks`, one at a time.
    private func timedReads(_ reader: NBDReader, count: Int, blocks: UInt64, using random: inout SeededGenerator) throws -> [Double] {
        var latencies: [Double] = []
        latencies.reserveCapacity(count)
        for _ in 0..<count {
            let block = UInt64.random(in: 0..<max(1, blocks), using: &random)
            let start = Monotonic.now()
            try reader.read(offset: block * 4096, length: 4096)
            latencies.append((Monotonic.now() - start) * 1000)
        }
        return latencies
    }

    /// The 50th and 99th percentiles (nearest rank).
    static func percentiles(_ values: [Double]) -> (Double, Double) {
        let sorted = values.sorted()
        return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
    }

    private func tandem(_ arguments: [String], stdoutPath: String? = nil) throws -> ChildResult {
        try ChildProcess.checked([tandemctl] + arguments, environment: tandemEnvironment, scratch: logs, stdoutPath: stdoutPath)
    }

    private func snapshotID(_ child: ChildResult) throws -> String {
        guard let object = try JSONSerialization.jsonObject(with: child.stdout) as? [String: Any], let id = object["snapshot_id"] as? String else {
            throw BenchError("tandemctl backup printed no snapshot_id")
        }
        return id
    }
}
