import Foundation
import TandemCodecs

/// What the numbers were measured on: recorded with every result.
struct Machine: Encodable {
    let cpu: String
    let cores: Int
    let memoryGiB: Double
    let kernel: String
    let openssl: String
    let zstd: String
    let lz4: String
    /// 1/5/15-minute load averages when measured (other work on the machine skews every figure).
    let loadAverage: String

    static func current() -> Machine {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "?" } ?? "unknown"
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return Machine(cpu: model, cores: ProcessInfo.processInfo.activeProcessorCount,
                       memoryGiB: Double(ProcessInfo.processInfo.physicalMemory) / 1073741824,
                       kernel: "Linux \(release)", openssl: LibraryVersions.openssl,
                       zstd: LibraryVersions.zstd, lz4: LibraryVersions.lz4,
                       loadAverage: ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "")
                           .split(separator: " ").prefix(3).joined(separator: " "))
    }

    /// One line for the top of a report.
    var summary: String {
        "\(cpu), \(cores) cores, \(Units.fixed(memoryGiB, 1)) GiB RAM, \(kernel); OpenSSL \(openssl), zstd \(zstd), lz4 \(lz4); load average at start \(loadAverage)"
    }
}
