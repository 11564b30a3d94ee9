import Foundation
import Testing
import TandemTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `tandemctl serve` and `tandemctl mount` without `--repo`: tandemd reads the snapshots and
/// serves them to the uid that asked and nobody else, for as long as that command runs, audited.
@Suite(.serialized) struct DaemonExportTests {
    /// 4 MiB of data, 8 MiB of zeros, 4 MiB and an odd tail of data.
    static let image: Data = sampleBytes(4 << 20, seed: 61) + Data(count: 8 << 20) + sampleBytes((4 << 20) + 777, seed: 62)

    static let vmPolicy = """
    tenant: vm
    access: {uids: [4242]}
    key: {key_file: $KEY}
    sources:
      - {name: disk, image: $ROOT/data/disk.raw}
      - {name: docs, directory: $ROOT/data/docs}
    """

    /// Another tenant, mapped to uid 5353.
    static var betaPolicy: String { DaemonEndToEndTests.betaPolicy }

    /// Runs `tool ARGUMENTS`, as `uid` when given; (exit status, stdout + stderr).
    static func tool(_ name: String, _ arguments: [String], uid: UInt32? = nil) throws -> (status: Int32, output: String) {
        guard let uid else { return try NBDExportTests.tool(name, arguments) }
        return try NBDExportTests.tool("setpriv", ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "/usr/bin/" + name] + arguments)
    }

    /// The socket path in `serve`'s line (`... at nbd+unix:///?socket=PATH (export ...`).
    static func socket(in text: String) throws -> String {
        let after = try #require(text.range(of: "?socket=")?.upperBound, "no socket in: \(text)")
        return String(text[after...].prefix { $0 != " " && $0 != "\n" })
    }

    static func mode(_ path: String) -> (uid: UInt32, mode: UInt32)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return (info.st_uid, info.st_mode & 0o7777)
    }

    @Test(.enabled(if: getuid() == 0, "needs root to act as tenant uids"))
    func tandemdServesATenantsImageToItsOwnUidAlone() throws {
        let daemon = try DaemonProcess(policies: ["vm": Self.vmPolicy, "beta": Self.betaPolicy],
                                       files: ["disk.raw": Self.image, "docs/a.txt": Data("a tree\n".utf8)])
        try daemon.start()
        try daemon.cli().run(["backup", "now", "--tenant", "vm", "--source", "disk"]).expectSuccess()
        let image = try #require(try daemon.cli().jsonArray(["snapshots", "--tenant", "vm"]).first?["id"] as? String)
        try daemon.cli().run(["backup", "now", "--tenant", "vm", "--source", "docs"]).expectSuccess()
        let scratch = Scratch()

        // The tenant's own uid asks; the socket is made for it alone.
        let tenantUser = daemon.cli(uid: 4242)
        let served = try BackgroundCommand(tenantUser, ["serve", "--tenant", "vm", image],
                                           ready: "tandemd serves snapshot", scratch: scratch)
        let socket = try Self.socket(in: served.text)
        let uri = "nbd+unix:///?socket=\(socket)"
        let folder = (socket as NSString).deletingLastPathComponent
        #expect(socket.hasPrefix(daemon.root + "/run/exports/"), "\(socket)")
        // Nothing is chowned: the server admits uids by SO_PEERCRED, and its folder is the daemon's.
        #expect(Self.mode(socket)?.uid == 0 && Self.mode(socket)?.mode == 0o666, "\(String(describing: Self.mode(socket)))")
        #expect(Self.mode(folder)?.uid == 0 && Self.mode(folder)?.mode == 0o711, "\(String(describing: Self.mode(folder)))")

        // That uid reads every byte through qemu; root may too; another tenant's uid may not connect.
        let compare = try Self.tool("qemu-img", ["compare", "-f", "raw", "-F", "raw", daemon.root + "/data/disk.raw", uri], uid: 4242)
        #expect(compare.status == 0, "\(compare.output)")
        let info = try Self.tool("nbdinfo", ["--json", uri])
        #expect(info.status == 0 && info.output.contains("\"export-size\": \(Self.image.count)"), "\(info.output)")
        let stranger = try Self.tool("nbdinfo", [uri], uid: 5353)
        #expect(stranger.status != 0 && !stranger.output.contains("export-size"), "\(stranger.output)")
        try daemon.wait("the refusal logged") { daemon.log.contains("refused a connection") && daemon.log.contains("uid=5353") }

        // Status shows the export to operators and to its tenant, not to another tenant.
        let exports = try #require(try daemon.cli().json(["status"])["exports"] as? [[String: Any]])
        #expect(exports.count == 1 && exports.first?["tenant"] as? String == "vm" && exports.first?["owner_uid"] as? Int == 4242
                && exports.first?["socket"] as? String == socket, "\(exports)")
        #expect((try tenantUser.json(["status"])["exports"] as? [[String: Any]])?.count == 1)
        let betaUser = daemon.cli(uid: 5353)
        #expect((try betaUser.json(["status"])["exports"] as? [[String: Any]])?.isEmpty == true)

        // Another tenant's snapshot is refused to a tenant uid, and the refusal is audited.
        let refused = try tenantUser.run(["serve", "--tenant", "beta", "latest"])
        #expect(refused.status == 11 && refused.stderr.contains("may not act on tenant beta"), "\(refused.status) \(refused.stderr)")
        // A tree is not an image; offline-only options are refused without --repo.
        let tree = try daemon.cli().run(["serve", "--tenant", "vm", "latest"])
        #expect(tree.status == 9 && tree.stderr.contains("is a directory tree"), "\(tree.status) \(tree.stderr)")
        let nbd = try daemon.cli().run(["serve", "--tenant", "vm", "latest", "--nbd", "unix:/tmp/x.sock"])
        #expect(nbd.status == 64 && nbd.stderr.contains("--nbd needs --repo"), "\(nbd.stderr)")

        // The export ends with its command, its socket and folder gone.
        #expect(served.stop() == 0, "\(served.text)")
        try daemon.wait("the export ends") { !FileManager.default.fileExists(atPath: folder) }
        #expect((try daemon.cli().json(["status"])["exports"] as? [[String: Any]])?.isEmpty == true)

        // kill -9 of the command ends it too: the daemon sees the control connection close.
        let killed = try BackgroundCommand(daemon.cli(), ["serve", "--tenant", "vm", image],
                                           ready: "tandemd serves snapshot", scratch: scratch)
        let killedFolder = (try Self.socket(in: killed.text) as NSString).deletingLastPathComponent
        kill(killed.process.processIdentifier, SIGKILL)
        killed.process.waitUntilExit()
        try daemon.wait("the export of a killed command ends") { !FileManager.default.fileExists(atPath: killedFolder) }

        let audit = try daemon.cli().run(["audit", "--limit", "50"])
        #expect(audit.status == 0, "\(audit.stderr)")
        let lines = audit.stdout.split(separator: "\n")
        #expect(lines.contains { $0.contains("serve") && $0.contains("uid:4242") && $0.contains("beta") && $0.contains("refused") }, "\(audit.stdout)")
        #expect(lines.filter { $0.contains("serve-end") && $0.contains("control connection closed") }.count == 2, "\(audit.stdout)")
        #expect(lines.contains { $0.contains(" serve ") && $0.contains("uid:4242") && $0.contains(" ok") }, "\(audit.stdout)")

        // Stopping tandemd ends a running export, and the command says so.
        let last = try BackgroundCommand(daemon.cli(), ["serve", "--tenant", "vm", image],
                                         ready: "tandemd serves snapshot", scratch: scratch)
        #expect(try daemon.stop() == 0)
        last.process.waitUntilExit()
        #expect(last.process.terminationStatus == 10 && last.text.contains("tandemd closed the connection"), "\(last.text)")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: daemon.root + "/run/exports"))?.isEmpty == true)
    }

    /// Under the shipped unit tandemd runs as its own unprivileged user: exports still reach
    /// the tenant's uid, and only it.
    @Test(.enabled(if: getuid() == 0, "needs root to act as other uids"))
    func anUnprivilegedTandemdServesTheTenantsUidAlone() throws {
        let daemon = try DaemonProcess(policies: ["vm": Self.vmPolicy.replacingOccurrences(of: "\n  - {name: docs, directory: $ROOT/data/docs}", with: "")],
                                       files: ["disk.raw": Self.image])
        daemon.uid = 4343
        try daemon.start()
        try daemon.cli().run(["backup", "now", "--tenant", "vm"]).expectSuccess()
        let scratch = Scratch()
        let served = try BackgroundCommand(daemon.cli(uid: 4242), ["serve", "--tenant", "vm", "latest"],
                                           ready: "tandemd serves snapshot", scratch: scratch)
        let socket = try Self.socket(in: served.text)
        #expect(Self.mode(socket)?.uid == 4343, "\(String(describing: Self.mode(socket)))")
        let uri = "nbd+unix:///?socket=\(socket)"
        let compare = try Self.tool("qemu-img", ["compare", "-f", "raw", "-F", "raw", daemon.root + "/data/disk.raw", uri], uid: 4242)
        #expect(compare.status == 0, "\(compare.output)")
        let stranger = try Self.tool("nbdinfo", [uri], uid: 5353)
        #expect(stranger.status != 0 && !stranger.output.contains("export-size"), "\(stranger.output)")
        #expect(served.stop() == 0, "\(served.text)")
        try daemon.wait("the export ends") { !FileManager.default.fileExists(atPath: (socket as NSString).deletingLastPathComponent) }
        #expect(try daemon.stop() == 0)
    }

    /// `tandemctl mount --tenant T DIR` as an operator: the FUSE mount is this process's, the
    /// repository and key stay in tandemd; the tree and the image read back byte for byte; the
    /// mount ends on SIGTERM or when tandemd stops; another tenant's uid is refused.
    @Test(.enabled(if: getuid() == 0, "needs root to act as tenant uids"))
    func tandemctlMountsWhatTandemdReads() throws {
        if MountTests.fuseMissing {
            report("DaemonExportTests: the mount test is skipped, /dev/fuse is missing or not usable here")
            return
        }
        let docs: [String: Data] = ["docs/a.txt": Data("a tree\n".utf8), "docs/sub/b.bin": sampleBytes(300_000, seed: 63),
                                    "docs/sub/deeper/c.txt": Data(String(repeating: "c", count: 70_000).utf8)]
        let daemon = try DaemonProcess(policies: ["vm": Self.vmPolicy, "beta": Self.betaPolicy],
                                       files: docs.merging(["disk.raw": Self.image]) { a, _ in a })
        try daemon.start()
        try daemon.cli().run(["backup", "now", "--tenant", "vm", "--source", "disk"]).expectSuccess()
        try daemon.cli().run(["backup", "now", "--tenant", "vm", "--source", "docs"]).expectSuccess()
        let scratch = Scratch()
        let mountPoint = scratch.file("mnt")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mounted = try BackgroundCommand(daemon.cli(), ["mount", "--tenant", "vm", mountPoint],
                                            ready: "mounted the snapshots", scratch: scratch)
        #expect(MountTests.mounted(mountPoint), "\(mounted.text)")
        // The root is the caller's alone; latest is the tree (backed up last), the other the image.
        #expect(Self.mode(mountPoint)?.uid == 0 && Self.mode(mountPoint)?.mode == 0o500, "\(String(describing: Self.mode(mountPoint)))")
        let diff = try NBDExportTests.tool("diff", ["-r", daemon.root + "/data/docs", mountPoint + "/snapshots/latest"])
        #expect(diff.status == 0, "\(diff.output)")
        let snapshots = try FileManager.default.contentsOfDirectory(atPath: mountPoint + "/snapshots").filter { $0 != "latest" }.sorted()
        #expect(snapshots.count == 2, "\(snapshots)")
        // Both may carry the same second in their names: the image is the one holding disk.raw.
        let imageDirectory = try #require(snapshots.first { FileManager.default.fileExists(atPath: mountPoint + "/snapshots/\($0)/disk.raw") })
        expectSameBytes(FileManager.default.contents(atPath: mountPoint + "/snapshots/\(imageDirectory)/disk.raw"), Self.image)
        let exports = try #require(try daemon.cli().json(["status"])["exports"] as? [[String: Any]])
        #expect(exports.count == 1 && exports.first?["kind"] as? String == "mount" && exports.first?["owner_uid"] as? Int == 0, "\(exports)")

        // The tenant's own uid mounts as itself, through fusermount3, where this machine lets it:
        // fusermount3 needs the uid in the user database and /dev/fuse open to it (Debian's
        // udev makes it 0666; containers often leave it 0600).
        if getpwuid(4242) != nil && Self.mode("/dev/fuse").map({ $0.mode & 0o006 == 0o006 }) == true {
            let own = scratch.file("own")
            try FileManager.default.createDirectory(atPath: own, withIntermediateDirectories: true)
            lchown(own, 4242, 4242)
            let tenantMount = try BackgroundCommand(daemon.cli(uid: 4242), ["mount", "--tenant", "vm", own],
                                                    ready: "mounted the snapshots", scratch: scratch)
            let read = try Self.tool("cat", [own + "/snapshots/latest/sub/deeper/c.txt"], uid: 4242)
            #expect(read.status == 0 && read.output == String(repeating: "c", count: 70_000), "\(read.output.prefix(200))")
            // Without allow_other only the mounting uid may look, root included.
            let owner = try Self.tool("stat", ["-c", "%u %a", own], uid: 4242)
            #expect(owner.output == "4242 500\n", "\(owner.output)")
            #expect(try Self.tool("stat", [own + "/snapshots"], uid: 5353).status != 0)
            #expect(tenantMount.stop() == 0, "\(tenantMount.text)")
            #expect(!MountTests.mounted(own))
        } else {
            report("DaemonExportTests: the tenant-uid mount is skipped: uid 4242 has no user entry for fusermount3, or /dev/fuse is not 0666")
        }

        // Another tenant's uid asks for vm: refused before anything is mounted, and audited.
        let other = scratch.file("other")
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        let refused = try daemon.cli(uid: 5353).run(["mount", "--tenant", "vm", other])
        #expect(refused.status == 11 && refused.stderr.contains("may not act on tenant vm"), "\(refused.status) \(refused.stderr)")
        #expect(!MountTests.mounted(other))

        // SIGTERM unmounts; the export ends with it.
        #expect(mounted.stop() == 0, "\(mounted.text)")
        #expect(!MountTests.mounted(mountPoint))
        try daemon.wait("the mount export ends") { (try daemon.cli().json(["status"])["exports"] as? [[String: Any]])?.isEmpty == true }
        let audit = try daemon.cli().run(["audit", "--limit", "50"]).stdout.split(separator: "\n")
        #expect(audit.contains { $0.contains(" mount ") && $0.contains("uid:5353") && $0.contains("refused") }, "\(audit)")
        #expect(audit.contains { $0.contains(" mount-end ") && $0.contains("control connection closed") }, "\(audit)")

        // Stopping tandemd unmounts a running mount, and the command says why.
        let last = try BackgroundCommand(daemon.cli(), ["mount", "--tenant", "vm", mountPoint], ready: "mounted the snapshots", scratch: scratch)
        #expect(try daemon.stop() == 0)
        last.process.waitUntilExit()
        #expect(last.process.terminationStatus == 10 && last.text.contains("tandemd closed the connection"), "\(last.text)")
        #expect(!MountTests.mounted(mountPoint))
    }

    /// An export holds the tenant shared, so retention cannot prune under it: the backup says
    /// retention is deferred (a notice, not an error an operator is paged for), and the next
    /// backup after the export ends applies it.
    @Test func retentionWaitsForAnExportWithoutAnError() throws {
        let policy = Self.vmPolicy.replacingOccurrences(of: "\n  - {name: docs, directory: $ROOT/data/docs}", with: "")
            + "\nretention: {keep_last: 1}\n"
        let daemon = try DaemonProcess(policies: ["vm": policy], files: ["disk.raw": Self.image])
        try daemon.start()
        try daemon.cli().run(["backup", "now", "--tenant", "vm"]).expectSuccess()
        let scratch = Scratch()
        let served = try BackgroundCommand(daemon.cli(), ["serve", "--tenant", "vm", "latest"], ready: "tandemd serves snapshot", scratch: scratch)
        try Self.image.prefix(1 << 20).write(to: URL(fileURLWithPath: daemon.root + "/data/disk.raw"))
        try daemon.cli().run(["backup", "now", "--tenant", "vm"]).expectSuccess()
        try daemon.wait("retention deferred") { daemon.log.contains("retention deferred") }
        #expect(!daemon.log.contains("retention failed"), "\(daemon.log)")
        #expect(try daemon.cli().jsonArray(["snapshots", "--tenant", "vm"]).count == 2)
        #expect(served.stop() == 0, "\(served.text)")
        try daemon.wait("the export ends") { (try daemon.cli().json(["status"])["exports"] as? [[String: Any]])?.isEmpty == true }
        try daemon.cli().run(["backup", "now", "--tenant", "vm"]).expectSuccess()
        try daemon.wait("retention applied") { try daemon.cli().jsonArray(["snapshots", "--tenant", "vm"]).count == 1 }
        #expect(try daemon.stop() == 0)
    }
}
