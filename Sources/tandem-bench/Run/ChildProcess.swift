import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What one child process cost: wall time, its own CPU time and peak RSS (from `wait4`, which
/// reports the resources of exactly that child), and what it printed.
struct ChildResult {
    let command: [String]
    /// Exit code, or 128 + signal number.
    let status: Int32
    let wallSeconds: Double
    let cpuSeconds: Double
    let peakRSSBytes: Int64
    let stdout: Data
    let stderr: String

    var succeeded: Bool { status == 0 }
}

/// Spawns children with `posix_spawnp` and reaps them with `wait4`, because Foundation's `Process`
/// does not expose a child's `rusage` (and `RUSAGE_CHILDREN` only reports the largest child ever).
enum ChildProcess {
    /// A child started by ``start(_:environment:directory:scratch:stdoutPath:)`` and not yet reaped.
    struct Started {
        let command: [String]
        let pid: pid_t
        let start: Double
        let outPath: String
        let errPath: String
        let keepsStdout: Bool
    }

    /// Runs `command` (searched in PATH) to completion. stdin is /dev/null; stdout and stderr go to
    /// files in `scratch` (read back afterwards), or stdout to `stdoutPath` if given.
    static func run(_ command: [String], environment extra: [String: String] = [:], directory: String? = nil,
                    scratch: String, stdoutPath: String? = nil) throws -> ChildResult {
        try wait(start(command, environment: extra, directory: directory, scratch: scratch, stdoutPath: stdoutPath))
    }

    /// Starts `command` as ``run(_:environment:directory:scratch:stdoutPath:)`` does and returns
    /// at once; ``wait(_:)`` reaps it.
    static func start(_ command: [String], environment extra: [String: String] = [:], directory: String? = nil,
                      scratch: String, stdoutPath: String? = nil) throws -> Started {
        precondition(!command.isEmpty)
        let token = UUID().uuidString.prefix(8)
        let outPath = stdoutPath ?? scratch + "/child-\(token).out"
        let errPath = scratch + "/child-\(token).err"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if let directory {
            guard let addchdir = addChdir else { throw BenchError("posix_spawn_file_actions_addchdir_np is unavailable") }
            _ = addchdir(&actions, directory)
        }

        var environment = ProcessInfo.processInfo.environment
        for (key, value) in extra { environment[key] = value }
        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }

        var pid: pid_t = 0
        let start = Monotonic.now()
        let spawned = posix_spawnp(&pid, command[0], &actions, nil, argv, envp)
        guard spawned == 0 else {
            unlink(errPath)
            if stdoutPath == nil { unlink(outPath) }
            throw BenchError("cannot start \(command[0]): \(String(cString: strerror(spawned)))")
        }
        return Started(command: command, pid: pid, start: start, outPath: outPath, errPath: errPath, keepsStdout: stdoutPath != nil)
    }

    /// Reaps a started child (waiting for it to exit) and reads what it printed.
    static func wait(_ child: Started) throws -> ChildResult {
        defer {
            if !child.keepsStdout { unlink(child.outPath) }
            unlink(child.errPath)
        }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(child.pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { throw BenchError("wait4 \(child.command[0]): \(String(cString: strerror(errno)))") }
        }
        let wall = Monotonic.now() - child.start
        let cpu = seconds(usage.ru_utime) + seconds(usage.ru_stime)
        let exit: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let out = child.keepsStdout ? Data() : (FileManager.default.contents(atPath: child.outPath) ?? Data())
        let err = String(decoding: FileManager.default.contents(atPath: child.errPath) ?? Data(), as: UTF8.self)
        return ChildResult(command: child.command, status: exit, wallSeconds: wall, cpuSeconds: cpu,
                           peakRSSBytes: Int64(usage.ru_maxrss) * 1024, stdout: out, stderr: err)
    }

    /// Runs `command` and throws, with its stderr, unless it exits 0.
    static func checked(_ command: [String], environment: [String: String] = [:], directory: String? = nil,
                        scratch: String, stdoutPath: String? = nil) throws -> ChildResult {
        let result = try run(command, environment: environment, directory: directory, scratch: scratch, stdoutPath: stdoutPath)
        guard result.succeeded else {
            let tail = result.stderr.split(separator: "\n").suffix(15).joined(separator: "\n")
            throw BenchError("`\(command.joined(separator: " "))` exited \(result.status):\n\(tail)")
        }
        return result
    }

    /// The first line a command prints (e.g. a version), or nil if it cannot run.
    static func firstLine(_ command: [String], scratch: String) -> String? {
        guard let result = try? run(command, scratch: scratch), result.succeeded else { return nil }
        let text = String(decoding: result.stdout, as: UTF8.self) + result.stderr
        return text.split(separator: "\n").first.map(String.init)
    }

    /// The full path of `name` in PATH, or nil.
    static func which(_ name: String) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") where access("\(dir)/\(name)", X_OK) == 0 { return "\(dir)/\(name)" }
        return nil
    }

    /// glibc's `posix_spawn_file_actions_addchdir_np` (2.29+), which Swift does not import
    /// because it is declared only under _GNU_SOURCE.
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32
    private static let addChdir: AddChdir? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addchdir_np") else { return nil }
        return unsafeBitCast(symbol, to: AddChdir.self)
    }()

    private static func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
}
