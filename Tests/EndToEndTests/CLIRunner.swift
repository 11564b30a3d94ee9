import Testing
import Foundation
import TandemTestSupport

/// Runs the real `tandemctl` binary, built beside this test bundle, as a child process.
struct CLIRunner {
    struct Outcome {
        let status: Int32
        let signaled: Bool
        let stderr: String
        var stdoutBytes: Data
        /// Decoded when asked: a dump's tens of megabytes of binary decode slowly as text.
        var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }
    }

    let repo: String
    var environment: [String: String]
    /// Run as this uid (through setpriv; the tests run as root in CI).
    var uid: UInt32?

    static var binary: String {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // `swift test` runs `.build/debug/TandemPackageTests.xctest`; tandemctl sits beside it.
        while !FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("tandemctl").path) && folder.path != "/" {
            folder = folder.deletingLastPathComponent()
        }
        return folder.appendingPathComponent("tandemctl").path
    }

    init(repo: String, passphrase: String = "e2e passphrase") {
        self.repo = repo
        var env = ProcessInfo.processInfo.environment
        env["TANDEM_PASSPHRASE"] = passphrase
        env["SWIFT_BACKTRACE"] = "enable=no"
        env.removeValue(forKey: "TANDEM_FAILPOINT")
        environment = env
    }

    @discardableResult
    func run(_ arguments: [String], extraEnvironment: [String: String] = [:], stdin: Data? = nil) throws -> Outcome {
        let process = Process()
        if let uid {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", Self.binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: Self.binary)
            process.arguments = arguments
        }
        process.environment = environment.merging(extraEnvironment) { _, new in new }
        // Output goes to files, so a large restore to stdout can never fill a pipe and block.
        let outPath = NSTemporaryDirectory() + "tandem-out-" + UUID().uuidString
        let errPath = outPath + ".err"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        let input = Pipe()
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        let outData = FileManager.default.contents(atPath: outPath) ?? Data()
        let errData = FileManager.default.contents(atPath: errPath) ?? Data()
        return Outcome(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                       stderr: String(decoding: errData, as: UTF8.self), stdoutBytes: outData)
    }

    /// Runs a command that must succeed and prints one JSON object.
    func json(_ arguments: [String]) throws -> [String: Any] {
        let outcome = try run(arguments + ["--json"])
        guard outcome.status == 0 else { throw CLIFailure(arguments: arguments, outcome: outcome) }
        return (try JSONSerialization.jsonObject(with: outcome.stdoutBytes) as? [String: Any]) ?? [:]
    }

    func jsonArray(_ arguments: [String]) throws -> [[String: Any]] {
        let outcome = try run(arguments + ["--json"])
        guard outcome.status == 0 else { throw CLIFailure(arguments: arguments, outcome: outcome) }
        return (try JSONSerialization.jsonObject(with: outcome.stdoutBytes) as? [[String: Any]]) ?? []
    }
}

struct CLIFailure: Error, CustomStringConvertible {
    let arguments: [String]
    let outcome: CLIRunner.Outcome
    var description: String { "tandemctl \(arguments.joined(separator: " ")) exited \(outcome.status): \(outcome.stderr)" }
}

/// A temporary folder removed when the test ends.
final class Scratch {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "tandem-e2e-" + UUID().uuidString.prefix(8).lowercased()
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

/// Pseudo-random but reproducible bytes with compressible regions.
func sampleBytes(_ count: Int, seed: UInt64) -> Data {
    var state = seed
    var out = Data(capacity: count)
    while out.count < count {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        if (state >> 60) < 14 {
            withUnsafeBytes(of: state) { out.append(contentsOf: $0) }
        } else {
            out.append(contentsOf: Array("backup replica site ".utf8))
        }
    }
    return out.prefix(count)
}


/// A `tandemctl` command left running (serve, mount) until ``stop()`` sends SIGTERM; its
/// stdout and stderr go to a file, read as ``text``.
final class BackgroundCommand {
    let process = Process()
    let output: String

    /// Starts `tandemctl ARGUMENTS` (as the runner's uid, if it has one) and waits (30 s at most) until its output contains `ready`.
    init(_ cli: CLIRunner, _ arguments: [String], ready: String, scratch: Scratch) throws {
        output = scratch.file("\(arguments.first ?? "command")-\(UUID().uuidString.prefix(6)).out")
        FileManager.default.createFile(atPath: output, contents: nil)
        if let uid = cli.uid {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", CLIRunner.binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: CLIRunner.binary)
            process.arguments = arguments
        }
        process.environment = cli.environment
        process.standardOutput = FileHandle(forWritingAtPath: output)
        process.standardError = FileHandle(forWritingAtPath: output)
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while !text.contains(ready) {
            guard process.isRunning, Date() < deadline else {
                throw CLIFailure(arguments: arguments, outcome: .init(status: -1, signaled: false, stderr: text, stdoutBytes: Data()))
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    var text: String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }

    /// SIGTERM, then its exit status.
    func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// Flips one byte in every 64 KiB of each of the tenant's packs (past their headers), so every
/// data chunk fails authentication while the repository's layout stays intact.
func damageEveryPack(repo: String, tenant: String) throws {
    let packs = try FileManager.default.subpathsOfDirectory(atPath: repo + "/tenants/\(tenant)/packs")
        .filter { $0.count == 67 }.map { repo + "/tenants/\(tenant)/packs/" + $0 }
    try #require(!packs.isEmpty, "no packs to damage")
    for pack in packs {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: pack))
        for offset in stride(from: 4096, to: bytes.count - 4096, by: 65536) { bytes[offset] ^= 0x5A }
        try bytes.write(to: URL(fileURLWithPath: pack))
    }
}
