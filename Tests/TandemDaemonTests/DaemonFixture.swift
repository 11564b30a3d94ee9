import Foundation
import Logging
import Synchronization
import Testing
import TandemCore
@testable import TandemDaemon
import TandemPolicy

/// A clock the test moves by hand; sleepers wake when it passes their deadline.
final class ManualClock: DaemonClock, Sendable {
    private struct State {
        var now: Date
        var sleepers: [(deadline: Date, continuation: CheckedContinuation<Void, Never>)] = []
    }
    private let state: Mutex<State>

    init(_ start: Date) { state = Mutex(State(now: start)) }

    func now() -> Date { state.withLock { $0.now } }

    func sleep(until deadline: Date) async throws {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { s -> Bool in
                if deadline <= s.now { return true }
                s.sleepers.append((deadline, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
        try Task.checkCancellation()
    }

    func advance(to date: Date) {
        let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.now = max(s.now, date)
            let due = s.sleepers.filter { $0.deadline <= s.now }
            s.sleepers.removeAll { $0.deadline <= s.now }
            return due.map(\.continuation)
        }
        woken.forEach { $0.resume() }
    }

    func advance(by seconds: TimeInterval) { advance(to: now().addingTimeInterval(seconds)) }
}

/// A temporary site: config, one or more tenant policies, key files, data to back up.
final class SiteFixture {
    let root: String
    var configPath: String { root + "/etc/tandem.yaml" }
    var data: String { root + "/data" }
    var keyFile: String { root + "/etc/keys/k1" }

    init(site: String = "test-site", extraSite: String = "") throws {
        root = NSTemporaryDirectory() + "tandem-daemon-" + UUID().uuidString.prefix(8).lowercased()
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/etc/tenants.d", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/etc/keys", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: data + "/docs/sub", withIntermediateDirectories: true)
        try Data((0..<64).map { UInt8($0 * 7 & 0xff) }).write(to: URL(fileURLWithPath: keyFile))
        for i in 0..<5 {
            try Data(String(repeating: "tenant data file \(i) ", count: 2000).utf8).write(to: URL(fileURLWithPath: data + "/docs/f\(i).txt"))
        }
        // Incompressible bytes, so stored sizes are not tiny.
        var generator = SystemRandomNumberGenerator()
        try Data((0..<48_000).map { _ in UInt8.random(in: 0...255, using: &generator) })
            .write(to: URL(fileURLWithPath: data + "/docs/random.bin"))
        try Data("nested".utf8).write(to: URL(fileURLWithPath: data + "/docs/sub/n.txt"))
        try Data("skip me".utf8).write(to: URL(fileURLWithPath: data + "/docs/sub/x.tmp"))
        try """
        site: \(site)
        repository: {path: ../repository}
        state_directory: ../state
        control: {socket: ../run/control.sock}
        metrics: {listen: "127.0.0.1:0"}
        \(extraSite)
        """.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func writePolicy(_ name: String, _ text: String) throws {
        try text.write(toFile: root + "/etc/tenants.d/\(name).yaml", atomically: true, encoding: .utf8)
    }

    /// A tenant backing up `data/docs` nightly (UTC) with the given extra YAML.
    func writeBasicPolicy(tenant: String = "alpha", schedule: String = "cron: \"30 1 * * *\"", extra: String = "") throws {
        try writePolicy(tenant, """
        tenant: \(tenant)
        access: {uids: [4242]}
        key: {key_file: \(keyFile)}
        sources:
          - name: docs
            directory: \(data)/docs
            exclude: ["*.tmp"]
        schedules:
          - name: main
            \(schedule)
            sources: [docs]
        \(extra)
        """)
    }

    func load() throws -> PolicySet { try PolicySet.load(configPath: configPath) }
}

/// A daemon on a manual clock with its job runner working in the background.
struct RunningDaemon {
    let daemon: Daemon
    let clock: ManualClock

    static func with<T>(_ fixture: SiteFixture, at start: Date,
                        _ body: (RunningDaemon) async throws -> T) async throws -> T {
        let clock = ManualClock(start)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let daemon = try await Daemon.open(policies: try fixture.load(), configPath: fixture.configPath, clock: clock, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await JobRunnerService(daemon: daemon).run() }
            defer { group.cancelAll() }
            let result = try await body(RunningDaemon(daemon: daemon, clock: clock))
            await daemon.stopTaking()
            return result
        }
    }

    /// Moves the clock, queues what is due, and waits for every job (and retention) to end.
    func step(to date: Date) async {
        clock.advance(to: date)
        await daemon.fireDueSchedules()
        await daemon.waitUntilIdle()
    }
}

func utcDate(_ text: String) -> Date { ControlJSON.parseTime(text)! }

let operatorCaller = Caller(uid: 0, name: "root", role: .operator_)
