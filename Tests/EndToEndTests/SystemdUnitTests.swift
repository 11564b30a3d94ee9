import Foundation
import Testing
import TandemTestSupport

/// The files under `systemd/` checked with systemd's own tools: the unit (alone and with the
/// block-device drop-in) passes `systemd-analyze verify` without a warning and keeps its
/// `systemd-analyze security` exposure at or below 2.5; the sysusers and tmpfiles entries apply
/// cleanly to a scratch root and produce the owners and modes the unit relies on.
/// Skipped only when systemd-analyze is missing (CI installs the `systemd` package).
@Suite(.enabled("systemd-analyze not found (install the systemd package)") { SystemdTools.available })
struct SystemdUnitTests {
    static let maximumExposure = 2.5

    @Test(arguments: [false, true])
    func unitVerifiesWithoutWarnings(withBlockDeviceDropIn: Bool) throws {
        let scratch = Scratch()
        let unit = try SystemdTools.stageUnit(in: scratch.path, withBlockDeviceDropIn: withBlockDeviceDropIn)
        // Only the unit under test counts: the host's own units (network-online.target and
        // the like) are not ours to judge. User=tandem need not exist here; verify does not
        // resolve it (systemd 252).
        let outcome = try SystemdTools.run("systemd-analyze", ["verify", "--man=no", "--recursive-errors=no", unit])
        let aboutUs = outcome.lines.filter { $0.contains("tandemd") }
        #expect(outcome.status == 0, "systemd-analyze verify failed:\n\(outcome.output)")
        #expect(aboutUs.isEmpty, "systemd-analyze verify warns about the unit:\n\(aboutUs.joined(separator: "\n"))")
    }

    @Test(arguments: [false, true])
    func exposureStaysLow(withBlockDeviceDropIn: Bool) throws {
        let scratch = Scratch()
        let unit = try SystemdTools.stageUnit(in: scratch.path, withBlockDeviceDropIn: withBlockDeviceDropIn)
        // --threshold counts in tenths of the printed level.
        let threshold = Int((Self.maximumExposure * 10).rounded())
        let outcome = try SystemdTools.run("systemd-analyze",
                                      ["security", "--offline=true", "--no-pager", "--threshold=\(threshold)", unit])
        let score = try #require(SystemdTools.overallExposure(in: outcome.output),
                                 "no overall exposure level in:\n\(outcome.output)")
        let exposed = outcome.lines.filter { $0.hasPrefix("✗") }.map { $0.split(separator: " ").dropFirst().first ?? "" }
        report("tandemd.service\(withBlockDeviceDropIn ? " + block-devices.conf" : ""): exposure \(score); "
              + "exposed: \(exposed.joined(separator: ", "))")
        #expect(score <= Self.maximumExposure)
        #expect(outcome.status == 0, "systemd-analyze security failed:\n\(outcome.output)")
        let warnings = outcome.lines.filter { $0.contains("tandemd") && !$0.contains("Overall exposure level") }
        #expect(warnings.isEmpty, "systemd-analyze security warns about the unit:\n\(warnings.joined(separator: "\n"))")
    }

    /// sysusers first, then tmpfiles (which resolves `tandem` from the scratch root's
    /// /etc/passwd), as `make install` and the boot do.
    @Test func sysusersAndTmpfilesApplyToAScratchRoot() throws {
        let scratch = Scratch()
        let root = scratch.path
        let fm = FileManager.default
        for dir in ["etc/tandem/tenants.d", "usr/lib/sysusers.d", "usr/lib/tmpfiles.d"] {
            try fm.createDirectory(atPath: "\(root)/\(dir)", withIntermediateDirectories: true)
        }
        try fm.copyItem(atPath: SystemdTools.source("sysusers.d/tandem.conf"), toPath: "\(root)/usr/lib/sysusers.d/tandem.conf")
        try fm.copyItem(atPath: SystemdTools.source("tmpfiles.d/tandem.conf"), toPath: "\(root)/usr/lib/tmpfiles.d/tandem.conf")
        // Too-open leftovers from a hand-made setup, which tmpfiles must tighten.
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: "\(root)/etc/tandem")
        for file in ["etc/tandem/tandem.yaml", "etc/tandem/tenants.d/alpha.yaml"] {
            #expect(fm.createFile(atPath: "\(root)/\(file)", contents: Data("site: a\n".utf8),
                                  attributes: [.posixPermissions: 0o644]))
        }

        let sysusers = try SystemdTools.run("systemd-sysusers", ["--root=\(root)"])
        #expect(sysusers.status == 0, "systemd-sysusers failed:\n\(sysusers.output)")
        #expect(!sysusers.output.contains("tandem.conf:"), "systemd-sysusers warns:\n\(sysusers.output)")
        let passwd = try SystemdTools.entries(atPath: "\(root)/etc/passwd")
        let group = try SystemdTools.entries(atPath: "\(root)/etc/group")
        let user = try #require(passwd["tandem"], "no user tandem in:\n\(passwd)")
        #expect(user[5] == "/var/lib/tandem")
        #expect(user[6].hasSuffix("/nologin"))
        let uid = try #require(Int(user[2]))
        let gid = try #require(Int(user[3]))
        #expect(group["tandem"]?[2] == user[3], "group tandem is not tandem's primary group")
        #expect(group["tandem-operators"] != nil, "no group tandem-operators")

        let tmpfiles = try SystemdTools.run("systemd-tmpfiles", ["--create", "--root=\(root)"])
        let asRoot = geteuid() == 0
        if asRoot {
            #expect(tmpfiles.status == 0, "systemd-tmpfiles failed:\n\(tmpfiles.output)")
        } else {
            // Without root the chown to tandem must fail; nothing else may.
            let unexpected = tmpfiles.lines.filter { !($0.hasPrefix("fchownat()") && $0.hasSuffix("Operation not permitted")) }
            #expect(unexpected.isEmpty, "systemd-tmpfiles:\n\(tmpfiles.output)")
        }
        let expected: [(path: String, mode: Int, owner: Int, group: Int)] = [
            ("etc/tandem", 0o750, 0, gid),
            ("etc/tandem/tenants.d", 0o750, 0, gid),
            ("etc/tandem/tandem.yaml", 0o640, 0, gid),
            ("etc/tandem/tenants.d/alpha.yaml", 0o640, 0, gid),
            ("var/lib/tandem", 0o750, uid, gid),
        ]
        for item in expected {
            let attributes = try fm.attributesOfItem(atPath: "\(root)/\(item.path)")
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
            #expect(mode == item.mode, "/\(item.path): mode \(String(mode, radix: 8))")
            if asRoot {
                #expect((attributes[.ownerAccountID] as? NSNumber)?.intValue == item.owner, "/\(item.path): owner")
                #expect((attributes[.groupOwnerAccountID] as? NSNumber)?.intValue == item.group, "/\(item.path): group")
            }
        }
    }
}

/// Locating systemd's tools and the package's files, and running the tools.
enum SystemdTools {
    struct Outcome {
        let status: Int32
        /// stdout and stderr together, in order enough for a failure message.
        let output: String
        var lines: [String] { output.split(separator: "\n").map(String.init) }
    }

    static let searchPath = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        + ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]

    static func tool(_ name: String) -> String? {
        searchPath.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Evaluated once, so the reason is printed once rather than per test.
    static let available: Bool = {
        if tool("systemd-analyze") != nil { return true }
        report("SystemdUnitTests skipped: systemd-analyze not found on PATH or in /usr/bin, /bin, /usr/sbin, /sbin")
        return false
    }()

    /// Tests/EndToEndTests/SystemdUnitTests.swift -> the package root.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static func source(_ relative: String) -> String { "\(packageRoot)/systemd/\(relative)" }

    /// The installed paths in the unit, which `make install` and the docs rely on.
    static let installedExecStart = "/usr/local/bin/tandemd --config /etc/tandem/tandem.yaml"

    /// A copy of the unit that verify can load on this machine: ExecStart names the tandemd this
    /// package built (or /bin/true before it is built), and any other Exec line whose program is
    /// missing here runs /bin/true. Everything else is byte for byte the shipped file.
    static func stageUnit(in dir: String, withBlockDeviceDropIn: Bool) throws -> String {
        let text = try String(contentsOfFile: source("tandemd.service"), encoding: .utf8)
        #expect(text.contains("\nExecStart=\(installedExecStart)\n"), "ExecStart is not \(installedExecStart)")
        let staged = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard line.hasPrefix("Exec"), let equals = line.firstIndex(of: "=") else { return String(line) }
            let key = line[..<equals]
            var words = line[line.index(after: equals)...].split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard let program = words.first, !FileManager.default.isExecutableFile(atPath: program) else { return String(line) }
            words[0] = key == "ExecStart" ? builtDaemon : "/bin/true"
            return "\(key)=\(words.joined(separator: " "))"
        }
        let unit = "\(dir)/tandemd.service"
        try staged.joined(separator: "\n").write(toFile: unit, atomically: true, encoding: .utf8)
        if withBlockDeviceDropIn {
            // verify and security read drop-ins from beside the unit file.
            try FileManager.default.createDirectory(atPath: "\(dir)/tandemd.service.d", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: source("tandemd.service.d/block-devices.conf.example"),
                                             toPath: "\(dir)/tandemd.service.d/block-devices.conf")
        }
        return unit
    }

    static var builtDaemon: String {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("tandemd").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        let debug = "\(packageRoot)/.build/debug/tandemd"
        return FileManager.default.isExecutableFile(atPath: debug) ? debug : "/bin/true"
    }

    /// "→ Overall exposure level for tandemd.service: 1.4 OK 🙂" ("->" outside UTF-8 locales).
    static func overallExposure(in output: String) -> Double? {
        guard let line = output.split(separator: "\n").last(where: { $0.contains("Overall exposure level for") }),
              let colon = line.lastIndex(of: ":") else { return nil }
        return line[line.index(after: colon)...].split(separator: " ").first.flatMap { Double($0) }
    }

    /// name -> colon-separated fields, for /etc/passwd and /etc/group.
    static func entries(atPath path: String) throws -> [String: [String]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let rows = text.split(separator: "\n").map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
        return Dictionary(rows.map { ($0[0], $0) }, uniquingKeysWith: { first, _ in first })
    }

    static func run(_ name: String, _ arguments: [String]) throws -> Outcome {
        let executable = try #require(tool(name), "\(name) not found (it comes with systemd-analyze in the systemd package)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["SYSTEMD_COLORS"] = "0"
        environment["SYSTEMD_PAGER"] = "cat"
        process.environment = environment
        // One file for both streams: the outputs are small, and a file can never block the child.
        let outPath = NSTemporaryDirectory() + "tandem-systemd-" + UUID().uuidString
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outPath) }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try out.close()
        let output = String(decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self)
        return Outcome(status: process.terminationStatus, output: output)
    }
}
