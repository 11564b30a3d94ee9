import Foundation
import Testing
@testable import TandemDaemon

/// The shipped alert rules (`Config/monitoring/tandem-alerts.yaml`) are valid, their unit tests
/// (each alert firing and staying silent) pass under promtool, and every metric they read is
/// one tandemd exports.
@Suite struct AlertRulesTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path + "/Config/monitoring"

    static func promtool(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test func theRulesCheckAndTheirTestsPass() throws {
        let check = try Self.promtool(["check", "rules", "tandem-alerts.yaml"])
        #expect(check.status == 0, "\(check.output)")
        let test = try Self.promtool(["test", "rules", "tandem-alerts-test.yaml", "tandem-drill-alerts-test.yaml"])
        #expect(test.status == 0, "\(test.output)")
    }

    /// Every alert in the rules file has a firing case in its tests, and every `tandem_` metric
    /// a rule reads is one the daemon's code exports.
    @Test func everyAlertIsTestedAndReadsRealMetrics() throws {
        let rules = try String(contentsOfFile: Self.directory + "/tandem-alerts.yaml", encoding: .utf8)
        let tests = try String(contentsOfFile: Self.directory + "/tandem-alerts-test.yaml", encoding: .utf8)
            + String(contentsOfFile: Self.directory + "/tandem-drill-alerts-test.yaml", encoding: .utf8)
        let alerts = rules.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.hasPrefix("- alert: ") ? String(trimmed.dropFirst("- alert: ".count)) : nil
        }
        #expect(alerts.count >= 12, "\(alerts)")
        for alert in alerts {
            #expect(tests.contains("alertname: \(alert)\n        exp_alerts:\n          - exp_labels"), "\(alert) has no firing case")
            #expect(tests.contains("alertname: \(alert)\n        exp_alerts: []"), "\(alert) has no silent case")
        }
        let sources = URL(fileURLWithPath: Self.directory).deletingLastPathComponent().deletingLastPathComponent().path
            + "/Sources/TandemDaemon/Metrics/DaemonMetrics.swift"
        let exported = try String(contentsOfFile: sources, encoding: .utf8)
        let metric = try Regex(#"tandem_[a-z_]+"#)
        for match in rules.matches(of: metric) {
            let name = String(rules[match.range])
            #expect(exported.contains("\"\(name)\""), "the rules read \(name), which tandemd does not export")
        }
    }
}
