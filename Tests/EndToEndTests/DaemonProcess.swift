import Foundation
import Testing

/// A real `tandemd` process on a temporary site: config, tenant policies, data, and its
/// standard error captured to a file.
final class DaemonProcess {
    let root: String
    private(set) var process = Process()
    var configPath: String { root + "/etc/tandem.yaml" }
    var socket: String { root + "/run/control.sock" }
    var logPath: String { root + "/tandemd.log" }
    var keyFile: String { root + "/etc/k1.key" }
    var repository: String { root + "/repository" }

    static var binary: String { (CLIRunner.binary as NSString).deletingLastPathComponent + "/tandemd" }

    init(policies: [String: String], files: [String: Data] = [:], repository: String = "{path: ../repository}",
         site: String = "e2e", extraSite: String = "") throws {
        root = NSTemporaryDirectory() + "tandem-d-" + UUID().uuidString.prefix(8).lowercased()
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/etc/tenants.d", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/data", withIntermediateDirectories: true)
        try Data((0..<48).map { UInt8(($0 * 31 + 7) & 0xff) }).write(to: URL(fileURLWithPath: keyFile))
        for (name, bytes) in files {
            let path = root + "/data/" + name
            try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try bytes.write(to: URL(fileURLWithPath: path))
        }
        try """
        site: \(site)
        \(extraSite)
        repository: \(repository)
        state_directory: ../state
        control: {socket: ../run/control.sock}
        metrics: {listen: "127.0.0.1:0"}
        log_level: debug
        """.write(toFile: configPath, atomically: true, encoding: .utf8)
        for (name, text) in policies { try writePolicy(name, text) }
    }

    deinit {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: root)
    }

    func writePolicy(_ name: String, _ text: String) throws {
        let expanded = text.replacingOccurrences(of: "$ROOT", with: root).replacingOccurrences(of: "$KEY", with: keyFile)
        try expanded.write(toFile: root + "/etc/tenants.d/\(name).yaml", atomically: true, encoding: .utf8)
    }

    /// Starts tandemd (again, after a stop) and waits (up to 30 s) until its control socket answers.
    func start(environment extra: [String: String] = [:]) throws {
        try spawn(environment: extra)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if try isReady() { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw DaemonFailure(description: "tandemd not ready within 30 s: \(log)")
    }

    /// Runs tandemd as this uid (through setpriv, its site handed to that uid) with umask 0077,
    /// as the shipped unit runs it as `tandem`; nil: as the test runs.
    var uid: UInt32?

    private func spawn(environment extra: [String: String]) throws {
        if process.processIdentifier != 0 { process = Process() }
        if let uid {
            // systemd makes the unit's RuntimeDirectory 0755 before tandemd starts.
            mkdir(root + "/run", 0o755)
            chmod(root + "/run", 0o755)
            lchown(root, uid, uid)
            for case let path as String in FileManager.default.enumerator(atPath: root)?.allObjects ?? [] {
                lchown(root + "/" + path, uid, uid)
            }
            // With the shipped unit's umask too.
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "umask 0077 && exec /usr/bin/setpriv --reuid=\(uid) --regid=\(uid) --clear-groups \"$0\" --config \"$1\"",
                                 Self.binary, configPath]
        } else {
            process.executableURL = URL(fileURLWithPath: Self.binary)
            process.arguments = ["--config", configPath]
        }
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        environment.merge(extra) { $1 }
        process.environment = environment
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    private func isReady() throws -> Bool {
        if log.contains("tandemd ready") { return true }
        if !process.isRunning { throw DaemonFailure(description: "tandemd exited \(process.terminationStatus) at start: \(log)") }
        return false
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends a signal.
    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// SIGTERM, then waits up to `timeout`; returns the exit status.
    @discardableResult
    func stop(timeout: TimeInterval = 30) throws -> Int32 {
        signal(SIGTERM)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        guard !process.isRunning else { throw DaemonFailure(description: "tandemd did not stop within \(timeout) s") }
        return process.terminationStatus
    }

    /// The daemon's `/metrics` page (its address from `status`), fetched with curl.
    func metricsPage() throws -> String {
        guard let address = try cli().json(["status"])["metrics_address"] as? String else {
            throw DaemonFailure(description: "status names no metrics address")
        }
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-sf", "http://\(address)/metrics"]
        let body = Pipe()
        curl.standardOutput = body
        try curl.run()
        let text = String(decoding: body.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        return text
    }

    /// What `promtool check metrics` says of the metrics page (empty when it is clean).
    func metricsLint() throws -> String {
        let page = Data(try metricsPage().utf8)
        let promtool = Process()
        promtool.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        promtool.arguments = ["check", "metrics"]
        let input = Pipe(), output = Pipe()
        promtool.standardInput = input
        promtool.standardOutput = output
        promtool.standardError = output
        try promtool.run()
        input.fileHandleForWriting.write(page)
        try input.fileHandleForWriting.close()
        let verdict = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        promtool.waitUntilExit()
        return promtool.terminationStatus == 0 ? "" : "promtool exit \(promtool.terminationStatus): \(verdict)"
    }

    /// One sample of the metrics page: `name{label="value"}` (nil: no such series).
    func metric(_ name: String, _ label: String, _ value: String) throws -> Double? {
        try metric(name, labels: [label: value])
    }

    /// The value of the series `name` carrying exactly these labels (in any order).
    func metric(_ name: String, labels: [String: String]) throws -> Double? {
        for line in try metricsPage().split(separator: "\n") where line.hasPrefix(name + "{") {
            guard let close = line.firstIndex(of: "}") else { continue }
            let pairs = line[line.index(line.startIndex, offsetBy: name.count + 1)..<close].split(separator: ",").map {
                $0.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
            }
            guard pairs.count == labels.count, pairs.allSatisfy({ $0.count == 2 && labels[$0[0]] == $0[1] }) else { continue }
            return Double(line[line.index(after: close)...].trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// A tandemctl runner aimed at this daemon's socket.
    func cli(uid: UInt32? = nil) -> CLIRunner {
        var runner = CLIRunner(repo: repository)
        runner.environment["TANDEM_SOCKET"] = socket
        runner.uid = uid
        return runner
    }

    /// Waits until `condition` holds, polling every 100 ms, up to `timeout` seconds; a timeout's
    /// error carries `onTimeout`'s account of what was seen last, and the log's end.
    func wait(_ what: String, timeout: TimeInterval = 60, _ condition: () throws -> Bool,
              onTimeout: () -> String = { "" }) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw DaemonFailure(description: "timed out waiting for \(what); \(onTimeout())\nlog:\n\(log.suffix(3000))")
    }
}

struct DaemonFailure: Error, CustomStringConvertible {
    let description: String
}

/// A test hands a daemon to the one thread that drives it (``OwnThread``) and takes it back when
/// that thread is done; it is never used from two threads at once.
extension DaemonProcess: @unchecked Sendable {}
