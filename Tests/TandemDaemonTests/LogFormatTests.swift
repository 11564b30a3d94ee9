import Foundation
import Logging
import Testing
@testable import TandemDaemon

/// Log lines outside the journal carry their time and level; under systemd they stay in the
/// journal's form.
@Suite struct LogFormatTests {
    let time = Date(timeIntervalSince1970: 1_796_655_845.1234)  // 2026-12-07T15:04:05.123Z

    func event(_ message: Logger.Message, level: Logger.Level = .notice, metadata: Logger.Metadata? = nil) -> LogEvent {
        LogEvent(level: level, message: message, metadata: metadata, source: "t", file: #fileID, function: #function, line: #line)
    }

    @Test func textLinesStartWithTheTimeAndLevel() {
        var handler = TimedLogHandler(label: "tandemd", json: false)
        handler[metadataKey: "tenant"] = "alpha"
        let line = handler.line(event("tenant moved", metadata: ["why": "the old lease ran out", "epoch": "3"]), at: time)
        #expect(line == #"2026-12-07T15:04:05.123Z notice tenant moved epoch=3 tenant=alpha why="the old lease ran out""#)
        let multi = handler.line(event("a\nb", level: .error), at: time)
        #expect(!multi.contains("\n") && multi.hasPrefix("2026-12-07T15:04:05.123Z error a\\nb"))
    }

    @Test func jsonLinesAreObjectsWithTheFields() throws {
        let handler = TimedLogHandler(label: "tandemd", json: true)
        let line = handler.line(event("backup committed", level: .info, metadata: ["snapshot": "ab12", "seconds": "1.50"]), at: time)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object == ["time": "2026-12-07T15:04:05.123Z", "level": "info", "message": "backup committed", "logger": "tandemd",
                           "snapshot": "ab12", "seconds": "1.50"])
        #expect(!line.contains("\n"))
    }

    /// `auto` is the journal's form only when standard error is the journal stream systemd
    /// named: the same device and inode.
    @Test func automaticFollowsJournalStream() throws {
        let path = NSTemporaryDirectory() + "tandem-log-" + UUID().uuidString
        FileManager.default.createFile(atPath: path, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let descriptor = open(path, O_WRONLY)
        defer { close(descriptor) }
        var info = stat()
        #expect(fstat(descriptor, &info) == 0)
        let same = "\(info.st_dev):\(info.st_ino)"
        #expect(LogFormat.automatic(environment: ["JOURNAL_STREAM": same], standardError: descriptor) == .journal)
        #expect(LogFormat.automatic(environment: ["JOURNAL_STREAM": "\(info.st_dev):\(info.st_ino + 1)"], standardError: descriptor) == .text)
        #expect(LogFormat.automatic(environment: ["JOURNAL_STREAM": "garbage"], standardError: descriptor) == .text)
        #expect(LogFormat.automatic(environment: [:], standardError: descriptor) == .text)
    }
}
