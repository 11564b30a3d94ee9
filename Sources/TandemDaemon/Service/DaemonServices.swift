import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// Queues scheduled runs when they come due: sleeps until the earliest next start (or a
/// reload changes the schedules), fires what is due, and repeats. Stops at graceful shutdown.
struct SchedulerService: Service {
    let daemon: Daemon

    func run() async throws {
        try await untilGracefulShutdown {
            let bell = await daemon.schedules.bell
            while !Task.isCancelled {
                await daemon.fireDueSchedules()
                let clock = daemon.clock
                let wake = await daemon.nextWake() ?? clock.now().addingTimeInterval(3600)
                // Sleep until the next start or a ring (reload), whichever is first.
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { try? await clock.sleep(until: wake) }
                    group.addTask { await bell.wait(timeout: .seconds(3600)) }
                    await group.next()
                    group.cancelAll()
                }
            }
        }
    }
}

/// Runs queued jobs, at most the site's `jobs.max_concurrent` at once, each a child task.
/// At graceful shutdown it stops starting jobs and cancels the running ones, which stop
/// without committing a snapshot (their packs are reused by the next run), then returns.
struct JobRunnerService: Service {
    let daemon: Daemon

    func run() async throws {
        await withDiscardingTaskGroup { group in
            await withGracefulShutdownHandler {
                while let job = await daemon.takeRunnable() {
                    group.addTask { await daemon.execute(job) }
                }
            } onGracefulShutdown: {
                Task { await daemon.stopTaking() }
            }
            group.cancelAll()
        }
    }
}

/// Reloads the configuration on SIGHUP (systemd's `ExecReload`), telling systemd it is
/// reloading and ready again.
struct ReloadService: Service {
    let daemon: Daemon
    let notifier: SystemdNotifier

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        try await untilGracefulShutdown {
            for await _ in signals {
                notifier.reloading()
                await daemon.reload()
                notifier.ready(status: await daemon.statusLine())
            }
        }
    }
}

/// Tells systemd when the daemon is ready (once the control socket is bound), pings the
/// watchdog while the daemon actor answers, and says STOPPING=1 first thing at shutdown
/// (it is the last service in the group, so the first to be told).
struct NotifierService: Service {
    let daemon: Daemon
    let notifier: SystemdNotifier
    let ready: AsyncStream<Void>

    func run() async throws {
        var iterator = ready.makeAsyncIterator()
        _ = await iterator.next()
        notifier.ready(status: await daemon.statusLine())
        let site = await daemon.policies.site.siteName
        daemon.logger.notice("tandemd ready", metadata: ["site": "\(site)"])
        let interval = notifier.watchdogInterval ?? .seconds(3600)
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: interval)
                if notifier.watchdogInterval != nil {
                    _ = await daemon.statusLine()
                    notifier.watchdog()
                }
            }
        }
        notifier.stopping()
        daemon.logger.notice("stopping: no new jobs; running backups are cancelled without committing")
    }
}

extension Daemon {
    /// A one-line summary for systemd's STATUS=.
    func statusLine() -> String {
        "site \(policies.site.siteName): \(policies.tenants.count) tenants, \(jobQueue.runningCount) running, \(jobQueue.queued.count) queued"
    }
}

/// Runs `body` until graceful shutdown cancels it; the cancellation that ends it is the
/// expected way out, not a failure of the service.
func untilGracefulShutdown(_ body: @escaping @Sendable () async throws -> Void) async throws {
    do {
        try await cancelWhenGracefulShutdown { try await body() }
    } catch is CancellationError where Task.isShuttingDownGracefully {
        return
    }
}
