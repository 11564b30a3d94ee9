import Foundation
import Testing

/// `tandemctl certs init`, checked with the `openssl` tool: the chain verifies, the names and
/// usages are right, nothing is overwritten, and two sites' certificates carry a mutual TLS session.
@Suite struct CertsTests {
    static let sites = ["home-a", "home-b", "remote"]

    /// Makes the CA and three sites in a fresh folder.
    static func initialized(_ scratch: Scratch) throws -> (cli: CLIRunner, dir: String) {
        let cli = CLIRunner(repo: scratch.file("unused"))
        let dir = URL(fileURLWithPath: scratch.file("tls")).standardizedFileURL.path
        try cli.run(["certs", "init", "--dir", dir] + sites.flatMap { ["--site", $0] }).expectSuccess()
        return (cli, dir)
    }

    @Test func issuesCertificatesThatVerifyWithTheRightNamesAndUsages() throws {
        let scratch = Scratch()
        let (_, dir) = try Self.initialized(scratch)
        let ca = try OpenSSLTool.run(["x509", "-noout", "-ext", "basicConstraints,keyUsage", "-in", "\(dir)/ca.pem"])
        #expect(ca.output.contains("critical") && ca.output.contains("CA:TRUE"), "\(ca.output)")
        #expect(ca.output.contains("Certificate Sign, CRL Sign"), "\(ca.output)")
        var serials = Set<String>()
        for site in Self.sites {
            let verify = try OpenSSLTool.run(["verify", "-CAfile", "\(dir)/ca.pem", "\(dir)/\(site).pem"])
            #expect(verify.status == 0 && verify.output.contains(": OK"), "\(verify.output)")
            let text = try OpenSSLTool.run(["x509", "-noout", "-subject", "-serial", "-ext", "subjectAltName,extendedKeyUsage,basicConstraints",
                                            "-in", "\(dir)/\(site).pem"])
            #expect(text.status == 0)
            #expect(text.output.contains("DNS:\(site)"), "\(text.output)")
            #expect(text.output.contains("CN = \(site)") || text.output.contains("CN=\(site)"), "\(text.output)")
            #expect(text.output.contains("TLS Web Server Authentication") && text.output.contains("TLS Web Client Authentication"),
                    "\(text.output)")
            #expect(text.output.contains("CA:FALSE"), "\(text.output)")
            let serial = text.output.split(separator: "\n").first { $0.hasPrefix("serial=") }
            serials.insert(String(serial ?? ""))
            let key = try OpenSSLTool.run(["pkey", "-noout", "-text", "-in", "\(dir)/\(site).key"])
            #expect(key.output.contains("prime256v1") || key.output.contains("P-256"), "\(key.output)")
        }
        #expect(serials.count == Self.sites.count, "serial numbers repeat: \(serials)")
        for name in ["ca.key"] + Self.sites.map({ "\($0).key" }) {
            #expect(try Self.mode(of: "\(dir)/\(name)") == 0o600, "\(name)")
        }
        #expect(try Self.mode(of: dir) == 0o700)
    }

    @Test func refusesToOverwriteAndReusesTheCAForANewSite() throws {
        let scratch = Scratch()
        let (cli, dir) = try Self.initialized(scratch)
        let names = ["ca.pem", "ca.key", "home-a.pem", "home-a.key"]
        let before = names.map { FileManager.default.contents(atPath: "\(dir)/\($0)") }
        let again = try cli.run(["certs", "init", "--dir", dir, "--site", "home-a"])
        #expect(again.status == 9 && again.stderr.contains("home-a.pem") && again.stderr.contains("--force"), "\(again.stderr)")
        // A refused run changes nothing, even for sites named alongside the existing one.
        let mixed = try cli.run(["certs", "init", "--dir", dir, "--site", "branch", "--site", "home-a"])
        #expect(mixed.status == 9)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/branch.pem"))
        #expect(names.map { FileManager.default.contents(atPath: "\(dir)/\($0)") } == before)

        let added = try cli.run(["certs", "init", "--dir", dir, "--site", "branch"])
        try added.expectSuccess()
        #expect(added.stdout.contains("tls: {ca: \(dir)/ca.pem, certificate: \(dir)/branch.pem, key: \(dir)/branch.key}"), "\(added.stdout)")
        #expect(FileManager.default.contents(atPath: "\(dir)/ca.pem") == before[0])
        let verify = try OpenSSLTool.run(["verify", "-CAfile", "\(dir)/ca.pem", "\(dir)/branch.pem"])
        #expect(verify.status == 0, "\(verify.output)")
        #expect(try Self.mode(of: "\(dir)/branch.key") == 0o600)
        // No staging folder is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).allSatisfy { !$0.hasPrefix(".") })
    }

    @Test func rejectsBadSiteNamesAndArguments() throws {
        let scratch = Scratch()
        let cli = CLIRunner(repo: scratch.file("unused"))
        let dir = scratch.file("tls")
        for bad in ["--site=-lead", "--site=.hidden", "--site=a/b", "--site=", "--site=sp ace", "--site=ca",
                    "--site=" + String(repeating: "x", count: 65)] {
            let outcome = try cli.run(["certs", "init", "--dir", dir, bad])
            #expect(outcome.status == 64, "\(bad): \(outcome.status) \(outcome.stderr)")
        }
        #expect(try cli.run(["certs", "init", "--dir", dir]).status == 64)
        #expect(try cli.run(["certs", "init", "--dir", dir, "--site", "a", "--site", "A"]).status == 64)
        #expect(try cli.run(["certs", "init", "--dir", dir, "--site", "a", "--days", "0"]).status == 64)
        #expect(!FileManager.default.fileExists(atPath: dir))
        try cli.run(["certs", "init", "--dir", dir, "--site", String(repeating: "x", count: 64), "--site", "a_b.c-1"]).expectSuccess()
    }

    @Test func jsonListsTheSites() throws {
        let scratch = Scratch()
        let cli = CLIRunner(repo: scratch.file("unused"))
        let dir = URL(fileURLWithPath: scratch.file("tls")).standardizedFileURL.path
        let document = try cli.json(["certs", "init", "--dir", dir, "--site", "home-a", "--site", "remote", "--days", "30"])
        #expect(document["dir"] as? String == dir)
        #expect(document["ca"] as? String == "\(dir)/ca.pem")
        let sites = try #require(document["sites"] as? [[String: Any]])
        #expect(sites.compactMap { $0["site"] as? String } == ["home-a", "remote"])
        #expect(sites.first?["certificate"] as? String == "\(dir)/home-a.pem")
        #expect(sites.first?["key"] as? String == "\(dir)/home-a.key")
        let notAfter = try #require(sites.first?["not_after"] as? String)
        let date = try #require(ISO8601DateFormatter().date(from: notAfter))
        #expect(abs(date.timeIntervalSinceNow - 30 * 86_400) < 3_600, "\(notAfter)")
    }

    /// An `openssl s_server` with home-a's identity demands a client certificate; home-b's is
    /// accepted and checked against the name home-a, while a certificate from another CA, or none,
    /// is turned away (`-verify_return_error` makes s_server stop at a bad client certificate).
    @Test(.timeLimit(.minutes(1))) func certificatesCarryMutualTLS() throws {
        let scratch = Scratch()
        let (cli, dir) = try Self.initialized(scratch)
        let stranger = scratch.file("other")
        try cli.run(["certs", "init", "--dir", stranger, "--site", "home-b"]).expectSuccess()

        // -naccept: the server ends by itself after the four clients below.
        let server = try OpenSSLTool.start(["s_server", "-accept", "127.0.0.1:0", "-naccept", "4", "-cert", "\(dir)/home-a.pem",
                                            "-key", "\(dir)/home-a.key", "-CAfile", "\(dir)/ca.pem", "-Verify", "1",
                                            "-verify_return_error", "-www"], seconds: 60)
        defer { server.stop() }
        // Port 0 lets the kernel pick a free port; s_server prints `ACCEPT 127.0.0.1:PORT`.
        let port = try server.waitForLine(prefix: "ACCEPT ", seconds: 10).split(separator: ":").last.map(String.init) ?? ""
        let request = Data("GET / HTTP/1.0\r\n\r\n".utf8)
        func client(_ identity: String?, name: String) throws -> OpenSSLTool.Result {
            let credentials = identity.map { ["-cert", "\($0).pem", "-key", "\($0).key"] } ?? []
            return try OpenSSLTool.run(["s_client", "-connect", "127.0.0.1:\(port)"] + credentials
                                       + ["-CAfile", "\(dir)/ca.pem", "-verify_return_error", "-verify_hostname", name, "-ign_eof"],
                                       stdin: request)
        }

        let good = try client("\(dir)/home-b", name: "home-a")
        #expect(good.status == 0, "\(good.output)")
        #expect(good.output.contains("Verify return code: 0 (ok)"), "\(good.output)")
        // -www answers with the session, including the client certificate the server verified.
        #expect(good.output.contains("Client certificate"), "\(good.output)")
        #expect(good.output.contains("Subject: CN=home-b") || good.output.contains("Subject: CN = home-b"), "\(good.output)")

        let wrongName = try client("\(dir)/home-b", name: "remote")
        #expect(wrongName.status != 0 && !wrongName.output.contains("Verify return code: 0 (ok)"), "\(wrongName.output)")
        for identity in ["\(stranger)/home-b", nil] {
            let refused = try client(identity, name: "home-a")
            #expect(refused.status != 0 && !refused.output.contains("Client certificate"), "\(identity ?? "no certificate"): \(refused.output)")
        }
    }

    static func mode(of path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }
}

/// Runs `openssl` under `timeout -s KILL`, so not even a test process killed mid-way leaves one
/// behind; output (stdout and stderr together) goes to a file so no pipe can fill. SIGKILL, not
/// SIGTERM, because children of the test process inherit a signal mask that blocks SIGTERM.
enum OpenSSLTool {
    struct Result {
        let status: Int32
        let output: String
    }

    final class Running {
        let process: Process
        let outputPath: String

        init(process: Process, outputPath: String) {
            self.process = process
            self.outputPath = outputPath
        }

        var output: String { String(decoding: FileManager.default.contents(atPath: outputPath) ?? Data(), as: UTF8.self) }

        /// Waits until the output has a line starting with `prefix` and returns the rest of it.
        func waitForLine(prefix: String, seconds: Double) throws -> String {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if let line = output.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                    return String(line.dropFirst(prefix.count))
                }
                guard process.isRunning else { break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            throw OpenSSLTimeout(what: "'\(prefix)' from openssl", output: output)
        }

        /// Waits for the process to end (timeout ends it at the latest) and collects its output.
        func finish() -> Result {
            process.waitUntilExit()
            defer { try? FileManager.default.removeItem(atPath: outputPath) }
            return Result(status: process.terminationStatus, output: output)
        }

        /// Kills timeout and openssl: timeout leads its own process group.
        func stop() {
            if process.isRunning {
                kill(-process.processIdentifier, SIGKILL)
                kill(process.processIdentifier, SIGKILL)
            }
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: outputPath)
        }
    }

    static var executable: String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        return path.split(separator: ":").map { "\($0)/openssl" }.first(where: FileManager.default.isExecutableFile(atPath:))
            ?? "/usr/bin/openssl"
    }

    static func start(_ arguments: [String], stdin: Data? = nil, seconds: Int) throws -> Running {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-s", "KILL", String(seconds), executable] + arguments
        let outputPath = NSTemporaryDirectory() + "tandem-openssl-" + UUID().uuidString
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardOutput = output
        process.standardError = output
        let input = Pipe()
        process.standardInput = input
        try process.run()
        try output.close()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        return Running(process: process, outputPath: outputPath)
    }

    static func run(_ arguments: [String], stdin: Data? = nil, seconds: Int = 15) throws -> Result {
        try start(arguments, stdin: stdin, seconds: seconds).finish()
    }
}

struct OpenSSLTimeout: Error, CustomStringConvertible {
    let what: String
    let output: String
    var description: String { "timed out waiting for \(what); output so far: \(output)" }
}
