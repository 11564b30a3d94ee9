import Foundation
import Testing
import TandemTestSupport

/// `tandemctl serve --nbd`: an image snapshot served over NBD to the real clients an operator
/// points at it (libnbd's nbdinfo and nbdcopy, qemu-img and qemu-io).
@Suite(.serialized) struct NBDExportTests {
    /// 8 MiB of data, 16 MiB of zeros, 16 MiB and an odd tail of data.
    static let image: Data = sampleBytes(8 << 20, seed: 41) + Data(count: 16 << 20) + sampleBytes((16 << 20) + 12345, seed: 42)

    /// A `tandemctl serve` process, stopped with SIGTERM.
    final class Served {
        let process = Process()
        let output: String
        let socket: String
        var uri: String { "nbd+unix:///?socket=\(socket)" }

        init(_ cli: CLIRunner, arguments: [String], socket: String, scratch: Scratch) throws {
            self.socket = socket
            output = scratch.file("serve-\(UUID().uuidString.prefix(6)).out")
            FileManager.default.createFile(atPath: output, contents: nil)
            process.executableURL = URL(fileURLWithPath: CLIRunner.binary)
            process.arguments = ["serve", "--repo", cli.repo] + arguments + ["--nbd", "unix:\(socket)"]
            process.environment = cli.environment
            process.standardOutput = FileHandle(forWritingAtPath: output)
            process.standardError = FileHandle(forWritingAtPath: output)
            try process.run()
            let deadline = Date().addingTimeInterval(30)
            while !text.contains("serving snapshot") {
                guard process.isRunning, Date() < deadline else { throw CLIFailure(arguments: ["serve"], outcome: .init(status: -1, signaled: false, stdout: text, stderr: "", stdoutBytes: Data())) }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }

        var text: String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }

        func stop() -> Int32 {
            process.terminate()
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    /// Runs a client tool; (exit status, stdout + stderr).
    @discardableResult
    static func tool(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/" + name)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func repositoryWithImage(_ scratch: Scratch) throws -> CLIRunner {
        let cli = CLIRunner(repo: scratch.file("repo"))
        try cli.run(["init", "--repo", cli.repo]).expectSuccess()
        try cli.run(["tenant", "create", "--repo", cli.repo, "--tenant", "vm"]).expectSuccess()
        try image.write(to: URL(fileURLWithPath: scratch.file("disk.raw")))
        try cli.run(["backup", "--repo", cli.repo, "--tenant", "vm", scratch.file("disk.raw")]).expectSuccess()
        return cli
    }

    @Test func qemuAndLibnbdReadTheServedImageAndAnOverlayTakesTheWrites() throws {
        let scratch = Scratch()
        let cli = try Self.repositoryWithImage(scratch)
        let served = try Served(cli, arguments: ["--tenant", "vm", "latest"], socket: scratch.file("nbd.sock"), scratch: scratch)
        var began = Date()
        let info = try Self.tool("nbdinfo", ["--json", served.uri])
        #expect(info.status == 0 && info.output.contains("\"export-size\": \(Self.image.count)"), "\(info.output)")
        #expect(info.output.contains("\"is_read_only\": true"), "\(info.output)")
        // The zero run is reported as a hole, the rest as data.
        began = Date()
        let map = try Self.tool("nbdinfo", ["--map", served.uri])
        report("nbd: nbdinfo --map took \(String(format: "%.2f", Date().timeIntervalSince(began))) s")
        #expect(map.status == 0, "\(map.output)")
        var holes = 0, data = 0
        for line in map.output.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 3, let length = Int(fields[1]) else { continue }
            if fields[2] == "3" { holes += length } else if fields[2] == "0" { data += length }
        }
        #expect(holes >= 15 << 20 && holes <= 16 << 20 && holes + data == Self.image.count, "\(map.output)")
        // Every byte, through libnbd and through qemu.
        began = Date()
        let copy = try Self.tool("nbdcopy", [served.uri, scratch.file("copy.raw")])
        report("nbd: nbdcopy of \(Self.image.count >> 20) MiB took \(String(format: "%.2f", Date().timeIntervalSince(began))) s")
        #expect(copy.status == 0, "\(copy.output)")
        expectSameBytes(FileManager.default.contents(atPath: scratch.file("copy.raw")), Self.image)
        began = Date()
        let compare = try Self.tool("qemu-img", ["compare", "-f", "raw", "-F", "raw", scratch.file("disk.raw"), served.uri])
        report("nbd: qemu-img compare took \(String(format: "%.2f", Date().timeIntervalSince(began))) s")
        #expect(compare.status == 0, "\(compare.output)")
        // Live restore: the VM's writes go to its own overlay; the snapshot stays as it was.
        let overlay = scratch.file("overlay.qcow2")
        #expect(try Self.tool("qemu-img", ["create", "-f", "qcow2", "-b", served.uri, "-F", "raw", overlay]).status == 0)
        let write = try Self.tool("qemu-io", ["-f", "qcow2", "-c", "write -P 0xab 1M 64k", overlay])
        #expect(write.status == 0 && !write.output.contains("error"), "\(write.output)")
        let merged = scratch.file("merged.raw")
        #expect(try Self.tool("qemu-img", ["convert", "-f", "qcow2", "-O", "raw", overlay, merged]).status == 0)
        // qcow2 rounds the disk up to whole 512-byte sectors (zeros).
        var expected = Self.image + Data(count: (512 - Self.image.count % 512) % 512)
        expected.replaceSubrange((1 << 20)..<(1 << 20) + 65536, with: [UInt8](repeating: 0xab, count: 65536))
        expectSameBytes(FileManager.default.contents(atPath: merged), expected)
        // A full restore runs beside the export (both hold the tenant shared).
        try cli.run(["restore", "--repo", cli.repo, "--tenant", "vm", "latest", "--target", scratch.file("restored.raw")]).expectSuccess()
        expectSameBytes(FileManager.default.contents(atPath: scratch.file("restored.raw")), Self.image)
        #expect(served.stop() == 0, "\(served.text)")
        #expect(!FileManager.default.fileExists(atPath: served.socket), "the socket was left behind")
    }

    /// A damaged pack: reads of its chunks fail with EIO (never wrong bytes) and the export
    /// goes on serving what is intact; zero chunks are never fetched at all.
    @Test func damagedDataGivesEIOAndTheExportGoesOn() throws {
        let scratch = Scratch()
        let cli = try Self.repositoryWithImage(scratch)
        let packs = try FileManager.default.subpathsOfDirectory(atPath: cli.repo + "/tenants/vm/packs")
            .filter { $0.count == 67 }.map { cli.repo + "/tenants/vm/packs/" + $0 }
        try #require(!packs.isEmpty)
        for pack in packs {
            var bytes = try Data(contentsOf: URL(fileURLWithPath: pack))
            for offset in stride(from: 4096, to: bytes.count - 4096, by: 65536) { bytes[offset] ^= 0x5A }
            try bytes.write(to: URL(fileURLWithPath: pack))
        }
        let served = try Served(cli, arguments: ["--tenant", "vm", "latest"], socket: scratch.file("nbd.sock"), scratch: scratch)
        let damaged = try Self.tool("qemu-io", ["-r", "-f", "raw", "-c", "read 0 64k", served.uri])
        #expect(damaged.output.contains("Input/output error"), "\(damaged.output)")
        let zeros = try Self.tool("qemu-io", ["-r", "-f", "raw", "-c", "read -P 0 12M 1M", served.uri])
        #expect(zeros.status == 0 && !zeros.output.contains("error"), "\(zeros.output)")
        #expect(served.stop() == 0)
        #expect(served.text.contains("nbd read failed"), "\(served.text)")
    }

    @Test func badRequestsAreRefusedClearly() throws {
        let scratch = Scratch()
        let cli = try Self.repositoryWithImage(scratch)
        let address = try cli.run(["serve", "--repo", cli.repo, "--tenant", "vm", "latest", "--nbd", "udp:1"])
        #expect(address.status == 64 && address.stderr.contains("--nbd must be unix:PATH or tcp:HOST:PORT"), "\(address.stderr)")
        try FileManager.default.createDirectory(atPath: scratch.file("tree"), withIntermediateDirectories: true)
        try Data("a file\n".utf8).write(to: URL(fileURLWithPath: scratch.file("tree/a.txt")))
        try cli.run(["backup", "--repo", cli.repo, "--tenant", "vm", scratch.file("tree")]).expectSuccess()
        let tree = try cli.run(["serve", "--repo", cli.repo, "--tenant", "vm", "latest", "--nbd", "unix:\(scratch.file("t.sock"))"])
        #expect(tree.status == 9 && tree.stderr.contains("only image snapshots (an image, a device, stdin) are served over NBD"),
                "\(tree.status) \(tree.stderr)")
        let missing = try cli.run(["serve", "--repo", cli.repo, "--tenant", "vm", "0123456789ab", "--nbd", "unix:\(scratch.file("m.sock"))"])
        #expect(missing.status == 5, "\(missing.status) \(missing.stderr)")
    }
}
