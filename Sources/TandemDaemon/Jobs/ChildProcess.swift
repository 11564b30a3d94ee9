import CTandemSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process in its own process group (so a timeout kills a shell and everything it
/// started), with standard input from /dev/null, standard error kept (the last 4 KiB are
/// quoted in errors) and standard output either discarded, kept, or handed to the caller as a
/// pipe (a command source's stream).
final class ChildProcess: @unchecked Sendable {
    // @unchecked: every field is set in init and only read afterwards, except `reaped`, which
    // only `wait` touches, and `wait` is called by one owner.
    let pid: pid_t
    let arguments: [String]
    /// The read end of the child's standard output when `.pipe` was asked for.
    let outputDescriptor: Int32?
    private let errorFile: String
    private let outputFile: String?
    private var reaped: Int32?

    enum Output { case discard, capture, pipe }

    /// Why a child failed.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(_ arguments: [String], environment: [String: String] = [:], output: Output) throws {
        precondition(!arguments.isEmpty)
        self.arguments = arguments
        let scratch = FileManager.default.temporaryDirectory.path
        errorFile = "\(scratch)/tandem-child-\(UUID().uuidString).err"
        outputFile = output == .capture ? "\(scratch)/tandem-child-\(UUID().uuidString).out" : nil

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, errorFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var pipeEnds: [Int32] = [-1, -1]
        switch output {
        case .discard:
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        case .capture:
            posix_spawn_file_actions_addopen(&actions, 1, outputFile!, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        case .pipe:
            guard tandem_pipe_cloexec(&pipeEnds) == 0 else { throw Failure(description: "pipe: \(String(cString: strerror(errno)))") }
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { $1 }
        let env = merged.map { "\($0.key)=\($0.value)" }
        var child: pid_t = 0
        let status = withCStrings(arguments) { argv in
            withCStrings(env) { envp in
                arguments[0].contains("/")
                    ? posix_spawn(&child, arguments[0], &actions, &attributes, argv, envp)
                    : posix_spawnp(&child, arguments[0], &actions, &attributes, argv, envp)
            }
        }
        if output == .pipe { close(pipeEnds[1]) }
        guard status == 0 else {
            if output == .pipe { close(pipeEnds[0]) }
            unlink(errorFile)
            throw Failure(description: "cannot start '\(arguments[0])': \(String(cString: strerror(status)))")
        }
        pid = child
        outputDescriptor = output == .pipe ? pipeEnds[0] : nil
    }

    deinit {
        if reaped == nil { kill(-pid, SIGKILL); _ = waitpid(pid, nil, 0) }
        if let outputDescriptor { close(outputDescriptor) }
        unlink(errorFile)
        if let outputFile { unlink(outputFile) }
    }

    /// Waits for the child to exit, at most `timeout`; past it (or when the task is
    /// cancelled) the whole process group gets SIGTERM, then SIGKILL 5 s later. Returns the
    /// wait status; throws ``Failure`` on timeout, `CancellationError` when cancelled.
    @discardableResult
    func wait(timeout: TimeInterval) async throws -> Int32 {
        if let reaped { return reaped }
        let deadline = Date().addingTimeInterval(timeout)
        var delay: UInt64 = 2_000_000
        while true {
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                reaped = status
                return status
            }
            if result < 0 && errno != EINTR {
                reaped = 0
                return 0
            }
            if Task.isCancelled {
                await stop()
                throw CancellationError()
            }
            if Date() >= deadline {
                await stop()
                throw Failure(description: "'\(summary)' did not finish within \(Int(timeout))s and was killed")
            }
            try? await Task.sleep(nanoseconds: delay)
            delay = min(delay * 2, 100_000_000)
        }
    }

    /// SIGTERM to the group now, without waiting (for cancellation handlers).
    func terminate() {
        kill(-pid, SIGTERM)
    }

    /// SIGTERM to the group, SIGKILL after 5 s, then reap.
    func stop() async {
        guard reaped == nil else { return }
        kill(-pid, SIGTERM)
        for _ in 0..<50 {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                reaped = status
                return
            }
            try? await Task.sleep(nanoseconds: 100_000_000)
        }
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        reaped = status
    }

    /// Runs to completion and throws unless it exited 0.
    func expectSuccess(timeout: TimeInterval) async throws {
        let status = try await wait(timeout: timeout)
        if let problem = Self.describe(status: status) {
            throw Failure(description: "'\(summary)' \(problem)\(errorTail.map { ": \($0)" } ?? "")")
        }
    }

    /// nil for a clean exit, else "exited with status N" / "was killed by signal N".
    static func describe(status: Int32) -> String? {
        let signal = status & 0x7f
        if signal == 0 {
            let code = (status >> 8) & 0xff
            return code == 0 ? nil : "exited with status \(code)"
        }
        return "was killed by signal \(signal)"
    }

    /// The captured standard output (for `.capture`).
    func capturedOutput(limit: Int = 1 << 20) -> [UInt8] {
        guard let outputFile, let data = FileManager.default.contents(atPath: outputFile) else { return [] }
        return Array(data.prefix(limit))
    }

    /// The last lines of standard error, trimmed, or nil if it wrote nothing.
    var errorTail: String? {
        guard let data = FileManager.default.contents(atPath: errorFile), !data.isEmpty else { return nil }
        let text = String(decoding: data.suffix(4096), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text.split(separator: "\n").suffix(3).joined(separator: " | ")
    }

    var summary: String {
        let text = arguments.count >= 3 && arguments[0] == "/bin/sh" && arguments[1] == "-c" ? arguments[2] : arguments.joined(separator: " ")
        return text.count > 80 ? String(text.prefix(77)) + "..." : text
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { pointers.forEach { free($0) } }
    return body(pointers)
}
