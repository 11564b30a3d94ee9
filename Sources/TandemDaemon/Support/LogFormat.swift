import Foundation
import Logging

/// How tandemd writes its log lines (`--log-format`).
public enum LogFormat: String, Sendable, CaseIterable {
    /// `<N>message key=value`: journald reads the priority and adds the time itself.
    case journal
    /// `2026-12-07T15:04:05.123Z notice message key=value`: for a terminal, a container or a file.
    case text
    /// One JSON object per line: `time`, `level`, `message`, then the metadata fields.
    case json

    /// `journal` when standard error is the journal (systemd sets `JOURNAL_STREAM` to its
    /// device and inode), else `text`.
    public static func automatic(environment: [String: String] = ProcessInfo.processInfo.environment,
                                 standardError: Int32 = 2) -> LogFormat {
        guard let stream = environment["JOURNAL_STREAM"] else { return .text }
        let parts = stream.split(separator: ":")
        var info = stat()
        guard parts.count == 2, fstat(standardError, &info) == 0,
              UInt64(parts[0]) == UInt64(info.st_dev), UInt64(parts[1]) == UInt64(info.st_ino) else { return .text }
        return .journal
    }

    /// A handler writing this format to standard error.
    public func handler(label: String, level: Logger.Level) -> any LogHandler {
        switch self {
        case .journal: JournalLogHandler(label: label, level: level)
        case .text, .json: TimedLogHandler(label: label, level: level, json: self == .json)
        }
    }
}

/// Log lines with their time, for anywhere but the journal: text
/// (`2026-12-07T15:04:05.123Z notice message key=value`, metadata sorted by key, values with
/// spaces quoted) or one JSON object per line. Each line goes out with one `write(2)`.
public struct TimedLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let json: Bool
    private let stream: JournalStream

    public init(label: String, level: Logger.Level = .info, json: Bool, stream: JournalStream = .standardError) {
        self.label = label
        self.logLevel = level
        self.json = json
        self.stream = stream
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        stream.write(line(event, at: Date()) + "\n")
    }

    /// One line, without its newline.
    func line(_ event: LogEvent, at time: Date) -> String {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let stamp = Self.timestamp(time)
        if json {
            var object: [String: String] = [:]
            for (key, value) in merged { object[key] = "\(value)" }
            object["time"] = stamp
            object["level"] = event.level.rawValue
            object["message"] = "\(event.message)"
            object["logger"] = label
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return (try? String(decoding: encoder.encode(object), as: UTF8.self)) ?? "{}"
        }
        var text = "\(stamp) \(event.level.rawValue) \(event.message)"
        for key in merged.keys.sorted() { text += " \(key)=\(JournalLogHandler.quote("\(merged[key]!)"))" }
        return text.replacingOccurrences(of: "\n", with: "\\n")
    }

    /// RFC 3339 in UTC with milliseconds.
    static func timestamp(_ time: Date) -> String {
        var seconds = time_t(time.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int((time.timeIntervalSince1970 - Double(seconds)) * 1000)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, min(millis, 999))
    }
}
