import Foundation
import TandemCore
import TandemStore

/// When each tenant's schedules last started (the marks the planner reads), kept crash-safely
/// in `STATE/schedule-marks.json`, and the doorbell that wakes the scheduler (a reload, a
/// tenant moved here). Owned by the ``Daemon`` actor.
struct ScheduleBook: Sendable {
    /// Schedule marks per tenant, per schedule name.
    var marks: [String: [String: SchedulePlanner.Mark]]
    /// Where the marks are kept.
    let file: String
    /// Wakes the scheduler.
    let bell = Doorbell()

    /// Loads the marks kept in `stateDirectory` (none if the file is missing or unreadable).
    init(stateDirectory: String) {
        file = (stateDirectory as NSString).appendingPathComponent("schedule-marks.json")
        if let data = FileManager.default.contents(atPath: file),
           let saved = try? ControlJSON.decoder().decode([String: [String: SchedulePlanner.Mark]].self, from: data) {
            marks = saved
        } else {
            marks = [:]
        }
    }

    /// Writes the marks crash-safely (temp file, fsync, rename, fsync of the directory).
    func save() async throws {
        let bytes = Array(try ControlJSON.encoder(pretty: true).encode(marks))
        let directory = (file as NSString).deletingLastPathComponent
        try await LocalBackend(root: directory).write((file as NSString).lastPathComponent, bytes, overwrite: true)
    }
}
