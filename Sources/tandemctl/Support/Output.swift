import Foundation

/// Writes exactly one JSON document to stdout (snake_case keys, ISO 8601 dates).
enum JSONOutput {
    static func print(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        FileHandle.standardOutput.write(try encoder.encode(value) + Data("\n".utf8))
    }
}

/// Human formatting of sizes and rates.
enum Human {
    /// `0.5 s`, `6.8 s`, `12 s`, `3 min 20 s`: rounded to what a person reads.
    static func seconds(_ value: Double) -> String {
        if value < 10 { return String(format: "%.1f s", max(0, value)) }
        if value < 120 { return "\(Int(value.rounded())) s" }
        let whole = Int(value.rounded())
        return whole % 60 == 0 ? "\(whole / 60) min" : "\(whole / 60) min \(whole % 60) s"
    }

    static func bytes(_ value: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var size = Double(value)
        var unit = 0
        while size >= 1024 && unit < units.count - 1 {
            size /= 1024
            unit += 1
        }
        return unit == 0 ? "\(value) B" : String(format: "%.1f %@", size, units[unit])
    }

    static func rate(_ bytes: Int64, _ seconds: Double) -> String {
        seconds > 0 ? String(format: "%.0f MB/s", Double(bytes) / seconds / 1e6) : "-"
    }
}
