import ArgumentParser
import Foundation
import Logging
import TandemDaemon
import TandemStore

/// `tandemd --config PATH`: the Tandem service. Runs in the foreground (systemd Type=notify,
/// or a terminal); logs to standard error, in the journal's form under systemd and with times
/// elsewhere (`--log-format`).
@main
struct Tandemd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandemd",
        abstract: "The Tandem replication daemon: runs tenants' backup schedules and serves the control socket.",
        discussion: """
        Signals: SIGTERM/SIGINT stop gracefully (running backups are cancelled; no partial snapshot is written). \
        SIGHUP reloads the configuration; a configuration that does not validate is refused and the running one kept.
        Exit status: 0 after a clean stop, 2 for an invalid configuration, 1 for any other failure to start.
        """)

    @Option(name: .long, help: "The site configuration file.")
    var config = "/etc/tandem/tandem.yaml"

    @Option(name: .long, help: "Override the config's log_level (trace, debug, info, notice, warning, error, critical).")
    var logLevel: String?

    @Option(name: .long, help: ArgumentHelp("Log line format: journal (priority prefix, no time), text (time, level, message, key=value), json, or auto: journal when standard error is the journal, else text.", valueName: "format"))
    var logFormat = "auto"

    func validate() throws {
        guard logFormat == "auto" || LogFormat(rawValue: logFormat) != nil else {
            throw ValidationError("--log-format must be auto, journal, text or json, not '\(logFormat)'")
        }
    }

    func run() async throws {
        ProcessTuning.applyDaemon()
        let level = logLevel.flatMap { Logger.Level(rawValue: $0) } ?? Self.configuredLevel(config) ?? .info
        let format = LogFormat(rawValue: logFormat) ?? .automatic()
        LoggingSystem.bootstrap { format.handler(label: $0, level: level) }
        let logger = Logger(label: "tandemd")
        do {
            try await DaemonRunner.run(configPath: config, logger: logger)
        } catch DaemonError.config {
            throw ExitCode(2)
        } catch {
            logger.critical("tandemd cannot run", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }

    /// The `log_level` of the config file, read leniently (full validation comes next).
    static func configuredLevel(_ path: String) -> Logger.Level? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("log_level:") {
            return Logger.Level(rawValue: line.dropFirst("log_level:".count).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}
