import Foundation
import Logging

/// Log lines for the journal: `<N>` syslog priority prefix (journald strips it and sets the
/// priority), then the message, then `key=value` metadata sorted by key. No timestamps: the
/// journal adds its own. Values with spaces are quoted.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let stream: JournalStream

    public init(label: String, level: Logger.Level = .info, stream: JournalStream = .standardError) {
        self.label = label
        self.logLevel = level
        self.stream = stream
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        var line = "<\(Self.priority(event.level))>\(event.message)"
        for key in merged.keys.sorted() {
            line += " \(key)=\(Self.quote("\(merged[key]!)"))"
        }
        stream.write(line.replacingOccurrences(of: "\n", with: "\\n") + "\n")
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    static func quote(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

/// Where log lines go: standard error, written whole with one `write(2)` each so lines from
/// concurrent tasks never interleave.
public struct JournalStream: Sendable {
    let descriptor: Int32

    public static let standardError = JournalStream(descriptor: 2)

    func write(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { if errno == EINTR { continue }; return }
                offset += n
            }
        }
    }
}

extension Logger.Level {
    /// The site config's `log_level` name.
    public init(configName: String) {
        self = Logger.Level(rawValue: configName == "notice" ? "notice" : configName) ?? .info
    }
}
