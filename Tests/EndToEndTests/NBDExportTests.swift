import Foundation
import Testing
import TandemTestSupport
import TandemCore
#if canImport(Glibc)
import Glibc
#endif

/// `tandemctl serve --nbd`: an image snapshot served over NBD to the real clients an operator
/// points at it (libnbd's nbdinfo and nbdcopy, qemu-img and qemu-io).
@Suite(.serialized) struct NBDExportTests {
    /// 8 MiB of data, 16 MiB of zeros, 16 MiB and an odd tail of data.
    static let image: Data = sampleBytes(8 << 20, seed: 41) + Data(count: 16 << 20) + sampleBytes((16 << 20) + 12345, seed: 42)

    /// A `tandemctl serve` process, stopped with SIGTERM.
    final class Served {
        let command: BackgroundCommand
        let socket: String
        var uri: String { "nbd+unix:///?socket=\(socket)" }
        var text: String { command.text }

        init(_ cli: CLIRunner, arguments: [String], socket: String, scratch: Scratch) throws {
            self.socket = socket
            command = try BackgroundCommand(cli, ["serve", "--repo", cli.repo] + arguments + ["--nbd", "unix:\(socket)"],
                                            ready: "serving snapshot", scratch: scratch)
        }

        func stop() -> Int32 { command.stop() }
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
        try damageEveryPack(repo: cli.repo, tenant: "vm")
        let served = try Served(cli, arguments: ["--tenant", "vm", "latest"], socket: scratch.file("nbd.sock"), scratch: scratch)
        let damaged = try Self.tool("qemu-io", ["-r", "-f", "raw", "-c", "read 0 64k", served.uri])
        #expect(damaged.output.contains("Input/output error"), "\(damaged.output)")
        let zeros = try Self.tool("qemu-io", ["-r", "-f", "raw", "-c", "read -P 0 12M 1M", served.uri])
        #expect(zeros.status == 0 && !zeros.output.contains("error"), "\(zeros.output)")
        #expect(served.stop() == 0)
        #expect(served.text.contains("nbd read failed"), "\(served.text)")
    }

    /// Bytes in and out of a Unix socket, blocking: a client that can send what libnbd never
    /// would (many requests and a disconnect in one write).
    final class RawClient {
        let fd: Int32

        init(socket path: String) throws {
            fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
            }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            try #require(connected == 0, "connect: \(String(cString: strerror(errno)))")
        }

        deinit { close(fd) }

        func send(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) } }

        /// Exactly `count` bytes, or fewer if the server closed the connection.
        func receive(_ count: Int) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: count)
            var done = 0
            while done < count {
                let n = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + done, count - done, 0) }
                if n <= 0 { return Array(out[..<done]) }
                done += n
            }
            return out
        }

        static func be(_ value: UInt64, _ width: Int) -> [UInt8] { (0..<width).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }

        /// Fixed newstyle, NBD_OPT_GO for the default export: simple replies from here on.
        func negotiate() throws {
            let greeting = receive(18)
            try #require(greeting.count == 18)
            send(Self.be(3, 4))
            send(Self.be(0x4948_4156_454f_5054, 8) + Self.be(7, 4) + Self.be(6, 4) + Self.be(0, 4) + Self.be(0, 2))
            while true {
                let header = receive(20)
                try #require(header.count == 20, "the server closed during negotiation")
                let type = header[12..<16].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                let length = Int(header[16..<20].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
                _ = receive(length)
                if type == 1 { return }
                try #require(type & 0x8000_0000 == 0, "NBD_OPT_GO refused")
            }
        }

        static func read(handle: UInt64, offset: Int, length: Int) -> [UInt8] {
            be(0x2560_9513, 4) + be(0, 2) + be(0, 2) + be(handle, 8) + be(UInt64(offset), 8) + be(UInt64(length), 4)
        }

        static let disconnect = be(0x2560_9513, 4) + be(0, 2) + be(2, 2) + be(0, 8) + be(0, 8) + be(0, 4)
    }

    @Test func readsSentBeforeTheDisconnectAreAllAnsweredWhole() throws {
        let scratch = Scratch()
        let cli = try Self.repositoryWithImage(scratch)
        let served = try Served(cli, arguments: ["--tenant", "vm", "latest"], socket: scratch.file("nbd.sock"), scratch: scratch)
        defer { _ = served.stop() }
        let client = try RawClient(socket: served.socket)
        try client.negotiate()
        // A long read of data, then a read of zeros and a short read of data, and the
        // disconnect, all in one write: every reply arrives whole before the server closes
        // (closing used to drop what the socket had not taken yet of the 8 MiB reply).
        let reads: [(handle: UInt64, offset: Int, length: Int)] = [(1, 0, 8 << 20), (2, 12 << 20, 4096), (3, (24 << 20) + 4096, 65536)]
        client.send(reads.flatMap { RawClient.read(handle: $0.handle, offset: $0.offset, length: $0.length) } + RawClient.disconnect)
        var order: [UInt64] = []
        for _ in reads {
            let header = client.receive(16)
            try #require(header.count == 16, "the connection closed before every read was answered")
            let error = header[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            try #require(error == 0, "read failed with error \(error): \(served.text)")
            let handle = header[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let read = try #require(reads.first(where: { $0.handle == handle }), "a reply to no request")
            order.append(handle)
            let data = client.receive(read.length)
            expectSameBytes(data, Self.image[read.offset..<(read.offset + read.length)])
        }
        #expect(Set(order) == [1, 2, 3])
        #expect(client.receive(1).isEmpty, "the connection stayed open after NBD_CMD_DISC")
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
        #expect(tree.status == 9 && tree.stderr.contains("only image snapshots (an image, a device, stdin) are served over NBD or dumped as raw or qcow2"),
                "\(tree.status) \(tree.stderr)")
        let missing = try cli.run(["serve", "--repo", cli.repo, "--tenant", "vm", "0123456789ab", "--nbd", "unix:\(scratch.file("m.sock"))"])
        #expect(missing.status == 5, "\(missing.status) \(missing.stderr)")
    }
}

/// `tandemctl dump` of an image snapshot, and the qcow2 layout on its own, read by qemu-img.
@Suite struct ImageDumpTests {
    @Test func anImageDumpsAsRawAndAsASparseQcow2ThatQemuAccepts() throws {
        let scratch = Scratch()
        let cli = try NBDExportTests.repositoryWithImage(scratch)
        let qcow2 = scratch.file("disk.qcow2")
        let dumped = try cli.run(["dump", "--repo", cli.repo, "--tenant", "vm", "latest", "--format", "qcow2", "--output", qcow2])
        #expect(dumped.status == 0 && dumped.stderr.contains("as"), "\(dumped.stderr)")
        let check = try NBDExportTests.tool("qemu-img", ["check", qcow2])
        #expect(check.status == 0 && check.output.contains("No errors were found"), "\(check.output)")
        let compare = try NBDExportTests.tool("qemu-img", ["compare", "-f", "raw", "-F", "qcow2", scratch.file("disk.raw"), qcow2])
        #expect(compare.status == 0, "\(compare.output)")
        let info = try NBDExportTests.tool("qemu-img", ["info", "--output=json", qcow2])
        // In whole 512-byte sectors (qemu's unit): the odd tail reads as zeros, which compare allows.
        #expect(info.output.contains("\"virtual-size\": \((NBDExportTests.image.count + 511) / 512 * 512)"), "\(info.output)")
        // The 16 MiB zero run is not in the file.
        let fileSize = (try FileManager.default.attributesOfItem(atPath: qcow2)[.size] as? Int) ?? 0
        #expect(fileSize < NBDExportTests.image.count - (15 << 20), "qcow2 of \(fileSize) bytes is not sparse")
        // To stdout: the same bytes; raw: the image itself.
        let streamed = try cli.run(["dump", "--repo", cli.repo, "--tenant", "vm", "latest", "--format", "qcow2"])
        expectSameBytes(streamed.stdoutBytes, FileManager.default.contents(atPath: qcow2))
        let raw = try cli.run(["dump", "--repo", cli.repo, "--tenant", "vm", "latest", "--format", "raw"])
        #expect(raw.status == 0)
        expectSameBytes(raw.stdoutBytes, NBDExportTests.image)
        let path = try cli.run(["dump", "--repo", cli.repo, "--tenant", "vm", "latest", "--format", "qcow2", "--path", "x"])
        #expect(path.status == 64 && path.stderr.contains("--path applies to tree snapshots"), "\(path.stderr)")
    }

    /// A 3 GiB guest with data in a few clusters across several L2 tables (each maps 512 MiB),
    /// written from the layout alone: qemu-img finds no errors and reads the same bytes.
    @Test func aLargeSparseLayoutIsValidQcow2() throws {
        let scratch = Scratch()
        let size = (3 << 30) + 4096
        let data: Set<Int> = [0, 1, 8191, 8192, 20_000, 40_000, size / 65536]
        let layout = Qcow2Layout(virtualSize: size) { data.contains($0) }
        #expect(layout.dataClusters == data.count)
        let qcow2 = scratch.file("layout.qcow2"), raw = scratch.file("layout.raw")
        FileManager.default.createFile(atPath: qcow2, contents: nil)
        FileManager.default.createFile(atPath: raw, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: qcow2))
        layout.forEachMetadataPiece { out.write(Data($0)) }
        let expected = try FileHandle(forWritingTo: URL(fileURLWithPath: raw))
        try expected.truncate(atOffset: UInt64(size))
        for cluster in data.sorted() {
            let bytes = Data((0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ cluster) })
            out.write(bytes)
            try expected.seek(toOffset: UInt64(cluster * 65536))
            expected.write(bytes.prefix(size - cluster * 65536))
        }
        try out.close()
        try expected.close()
        let check = try NBDExportTests.tool("qemu-img", ["check", qcow2])
        #expect(check.status == 0 && check.output.contains("No errors were found"), "\(check.output)")
        let compare = try NBDExportTests.tool("qemu-img", ["compare", "-f", "raw", "-F", "qcow2", raw, qcow2])
        #expect(compare.status == 0, "\(compare.output)")
    }
}
