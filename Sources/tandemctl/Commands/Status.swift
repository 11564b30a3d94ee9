import ArgumentParser
import Foundation
import TandemCore

/// `tandemctl status`: the site, each visible tenant's last and next run and quota use, and
/// running jobs.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the daemon's site, tenants, last and next runs, quota use and jobs.")

    @OptionGroup var daemon: DaemonOptions
    @Flag(help: "Print the daemon's answer as JSON.") var json = false

    func run() async throws {
        try await Failure.guarded {
            let client = daemon.client()
            if json {
                FileHandle.standardOutput.write(Data(try await client.call(.GET, "/v1/status", body: nil)))
                return
            }
            let status = try await client.get("/v1/status", as: StatusResponse.self)
            print("site \(status.site) (\(status.role)), tandemd \(status.version), up since \(Self.time(status.startedAt)); you are: \(status.caller)")
            if let metrics = status.metricsAddress { print("metrics: http://\(metrics)/metrics") }
            print("")
            print("TENANT           LAST BACKUP                        NEXT RUN              QUOTA USED")
            for t in status.tenants {
                // Where the tenant is not active, its backups run elsewhere: say what is held here.
                let last = t.lastBackup.map { "\(Self.time($0.time)) \($0.result)" }
                    ?? (t.snapshots > 0 ? "none here; \(t.snapshots) snapshot(s) held" : "never")
                let next = t.nextRun.map(Self.time) ?? "-"
                let quota = Human.bytes(t.quotaUsedBytes) + (t.quotaLimitBytes.map { " of \(Human.bytes($0))" } ?? "")
                print(t.name.padding(toLength: 16, withPad: " ", startingAt: 0) + " "
                      + last.padding(toLength: 34, withPad: " ", startingAt: 0) + " "
                      + next.padding(toLength: 21, withPad: " ", startingAt: 0) + " " + quota)
                if let message = t.lastBackup?.message { print("  last error: \(message)") }
                if let active = t.activeSite {
                    var line = "  active at \(active)" + (t.epoch.map { ", epoch \($0)" } ?? "")
                    if let expires = t.leaseExpires { line += ", lease until \(Self.time(expires))" }
                    if let twin = t.twinState {
                        line += "; twin \(twin.rawValue)" + (t.twinPendingSnapshots.map { $0 > 0 ? " (\($0) snapshot(s) behind)" : "" } ?? "")
                    }
                    print(line)
                    if let seconds = t.takeoverInSeconds {
                        print("  \(active) is silent: " + (t.takeoverHoldOff.map { "not taking over yet, \($0)" }
                            ?? "this site may take over in \(Human.seconds(seconds))"))
                    }
                }
                if let pending = t.remotePendingSnapshots {
                    let rpo = t.remoteRpoSeconds.map { "RPO \(Int($0)) s" } ?? "nothing there yet"
                    print("  remote: \(rpo), \(pending) snapshot(s) / \(Human.bytes(t.remotePendingBytes ?? 0)) pending"
                          + (t.remoteError.map { "; last error: \($0)" } ?? ""))
                }
            }
            if let exports = status.exports, !exports.isEmpty {
                print("")
                print("EXPORTS")
                for export in exports {
                    let what = export.kind == .nbd ? "nbd of snapshot \(export.snapshotId?.prefix(12) ?? "?") (\(Human.bytes(export.size ?? 0)))"
                        : "mount of every snapshot"
                    print("  \(export.id)  \(export.tenant)  \(what)  since \(Self.time(export.startedAt)) for \(export.actor)  "
                          + (export.uri ?? export.socket))
                }
            }
            if !status.jobs.isEmpty {
                print("")
                print("JOBS")
                for job in status.jobs {
                    print("  \(job.id)  \(job.tenant)/\(job.source ?? "-")  \(job.state.rawValue)  \(Human.bytes(job.bytesDone))  (\(job.trigger))")
                }
            }
        }
    }

    static func time(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle().year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false).timeSeparator(.colon))
    }
}
