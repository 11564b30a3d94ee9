import Foundation

/// Formatting of benchmark figures: MB/s are 10^6 B/s, sizes are MiB (2^20 B).
enum Units {
    static let mebibyte = 1048576.0

    /// Throughput in MB/s (10^6 bytes per second); 0 when nothing was timed.
    static func megabytesPerSecond(_ bytes: Int64, _ seconds: Double) -> Double {
        seconds > 0 ? Double(bytes) / seconds / 1e6 : 0
    }

    static func mib(_ bytes: Int64) -> Double { Double(bytes) / mebibyte }

    /// `value` with `digits` decimals.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        String(format: "%.\(digits)f", value)
    }

    /// `text` padded with spaces to `width` characters (left-aligned).
    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    /// Parses sizes like `256M`, `2G`, `64K` or plain bytes (binary units).
    static func parseSize(_ text: String) -> Int? {
        let upper = text.uppercased()
        let shifts: [Character: Int] = ["K": 10, "M": 20, "G": 30, "T": 40]
        var digits = Substring(upper)
        if digits.hasSuffix("IB") { digits = digits.dropLast(2) } else if digits.hasSuffix("B") { digits = digits.dropLast() }
        var shift = 0
        if let last = digits.last, let s = shifts[last] { shift = s; digits = digits.dropLast() }
        guard let value = Int(digits), value > 0 else { return nil }
        return value << shift
    }
}
