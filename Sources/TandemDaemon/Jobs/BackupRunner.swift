import Foundation
import Logging
import TandemCore
import TandemPolicy
import TandemStore

/// One source's backup as a policy describes it: `pre` hooks, the backup itself (a path, or
/// a command's output stream), `post` hooks. `post` hooks run whenever any `pre` hook ran,
/// whether the backup succeeded or not (they typically drop an LVM snapshot), and see the
/// outcome in `TANDEM_RESULT`. A command source must exit 0 for its snapshot to be
/// committed; its stream is abandoned otherwise, and nothing is written.
struct BackupRunner {
    let tenant: TenantRepository
    let policy: TenantPolicy
    let source: PolicySource
    let job: Job
    let clock: any DaemonClock
    let logger: Logger
    let siteName: String
    /// Where each new pack goes once durable here (the twin mirror's stream).
    var afterPack: (@Sendable (String, String) async -> Void)? = nil

    var environment: [String: String] {
        ["TANDEM_TENANT": policy.tenant, "TANDEM_SOURCE": source.name, "TANDEM_SITE": siteName, "TANDEM_JOB": job.id]
    }

    func run() async throws -> BackupResult {
        var preRan = false
        do {
            for hook in source.pre {
                preRan = true
                try await runHook(hook, phase: "pre", extra: [:])
            }
            let result = try await backup()
            for hook in source.post {
                try await runHook(hook, phase: "post", extra: ["TANDEM_RESULT": "success", "TANDEM_SNAPSHOT": result.snapshotID])
            }
            return result
        } catch {
            if preRan || source.pre.isEmpty {
                for hook in source.post {
                    do {
                        try await runHook(hook, phase: "post", extra: ["TANDEM_RESULT": "failed"])
                    } catch {
                        logger.error("post hook failed after a failed backup", metadata: ["error": "\(error)"])
                    }
                }
            }
            throw error
        }
    }

    private func runHook(_ hook: HookCommand, phase: String, extra: [String: String]) async throws {
        logger.info("running \(phase) hook", metadata: ["command": "\(hook)"])
        let child: ChildProcess
        do {
            child = try ChildProcess(hook.arguments, environment: environment.merging(extra) { $1 }, output: .discard)
        } catch {
            throw DaemonError.badRequest("\(phase) hook of source \(source.name): \(error)")
        }
        do {
            try await child.expectSuccess(timeout: source.timeout)
        } catch let failure as ChildProcess.Failure {
            throw DaemonError.badRequest("\(phase) hook of source \(source.name) failed: \(failure)")
        }
    }

    private func backup() async throws -> BackupResult {
        var options = BackupOptions()
        options.tags = source.tags.merging(["tandem.source": source.name, "tandem.trigger": job.trigger]) { a, _ in a }
        let counter = job
        options.progress = { bytes in counter.bytesDone.add(Int64(bytes), ordering: .relaxed) }
        options.afterPack = afterPack
        switch source.kind {
        case .image(let path), .device(let path):
            return try await tenant.backup(.stream(path: path), options: options, now: clock.now())
        case .directory(let path, let excludes):
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw RepositoryError.sourceUnreadable(path, "not an existing directory")
            }
            options.excludes = excludes
            return try await tenant.backup(.tree(path: path), options: options, now: clock.now())
        case .command(let command):
            return try await backupCommand(command, options: options)
        }
    }

    /// Streams a command's standard output into a stream snapshot, bounded by the source's
    /// timeout; the child is killed (whole process group) on timeout or cancellation.
    private func backupCommand(_ command: HookCommand, options base: BackupOptions) async throws -> BackupResult {
        let child: ChildProcess
        do { child = try ChildProcess(command.arguments, environment: environment, output: .pipe) } catch {
            throw DaemonError.badRequest("command source \(source.name): \(error)")
        }
        let deadline = Date().addingTimeInterval(source.timeout)
        var options = base
        let name = source.name
        options.beforeCommit = {
            do {
                try await child.expectSuccess(timeout: max(1, deadline.timeIntervalSinceNow))
            } catch let failure as ChildProcess.Failure {
                throw DaemonError.badRequest("command source \(name): \(failure)")
            }
        }
        let timeout = source.timeout
        let ready = options
        return try await withThrowingTaskGroup(of: BackupResult?.self) { group in
            group.addTask {
                try await withTaskCancellationHandler {
                    try await tenant.backup(.descriptor(child.outputDescriptor!, name: "command:\(name)"), options: ready,
                                            now: clock.now())
                } onCancel: {
                    child.terminate()
                }
            }
            group.addTask {
                // The whole run's limit: past it, the command is killed, its stream ends
                // early, and beforeCommit reports the kill, so nothing is committed.
                try await Task.sleep(for: .seconds(timeout))
                await child.stop()
                return nil
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw DaemonError.badRequest("command source \(name) did not finish within \(Int(timeout))s and was killed")
        }
    }
}
