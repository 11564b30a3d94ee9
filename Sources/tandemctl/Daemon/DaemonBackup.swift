import ArgumentParser
import Foundation
import TandemCore

/// `backup now`: queue the tenant's sources at the daemon, then (unless --no-wait) follow
/// the jobs until they end, with progress on a terminal. Exits 13 if any job failed.
struct DaemonBackup {
    let client: ControlClient
    let tenant: String
    let source: String?
    let wait: Bool
    let json: Bool

    func run() async throws {
        let started = try await client.post("/v1/tenants/\(tenant)/backup", body: BackupRequest(source: source), as: JobsResponse.self)
        var jobs = started.jobs
        if !json {
            for job in jobs { print("queued \(job.kind) of \(tenant)/\(job.source ?? "-") as job \(job.id)") }
        }
        if wait {
            let terminal = isatty(2) == 1 && !json
            while !jobs.allSatisfy(\.isFinished) {
                try await Task.sleep(for: .milliseconds(250))
                jobs = try await withThrowingTaskGroup(of: JobStatus.self) { group in
                    for job in jobs { group.addTask { try await client.get("/v1/jobs/\(job.id)", as: JobStatus.self) } }
                    var refreshed: [JobStatus] = []
                    for try await job in group { refreshed.append(job) }
                    return refreshed.sorted { $0.id < $1.id }
                }
                if terminal {
                    let line = jobs.map { "\($0.source ?? "-"): \($0.state.rawValue) \(Human.bytes($0.bytesDone))" }.joined(separator: "  ")
                    FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
                }
            }
            if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        }
        if json {
            try JSONOutput.print(JobsResponse(jobs: jobs))
        } else if wait {
            for job in jobs {
                switch job.state {
                case .succeeded: print("\(job.source ?? "-"): snapshot \(job.snapshotId?.prefix(12) ?? "?") committed (\(Human.bytes(job.bytesDone)) read)")
                default: print("\(job.source ?? "-"): \(job.state.rawValue): \(job.message ?? "")")
                }
            }
        }
        if wait && jobs.contains(where: { $0.state != .succeeded }) { throw ExitCode(13) }
    }
}
