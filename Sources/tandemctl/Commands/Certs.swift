import ArgumentParser
import Foundation

/// `tandemctl certs init`: a quick-start CA and one certificate per site for the mutually
/// authenticated TLS links between sites. Real deployments bring their own PKI; this is for
/// trying Tandem out and for tests. The work is done by the `openssl` tool, so no key material
/// passes through this process.
struct Certs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs", abstract: "Make certificates for the TLS links between sites.", subcommands: [Init.self])

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Create a CA (ca.pem, ca.key) and SITE.pem/SITE.key for each --site in DIR.",
            discussion: """
                Keys are EC P-256, signatures SHA-256. Each site certificate names the site in its CN and \
                subjectAltName and is valid for both serverAuth and clientAuth. If DIR already holds a CA, \
                it signs the new sites' certificates, so sites can be added later. Existing site files are \
                never replaced without --force; --force also makes a new CA, after which every site needs \
                a new certificate.
                """)

        @Option(help: ArgumentHelp("Directory for the CA and site files (created 0700).", valueName: "DIR"))
        var dir: String
        @Option(name: .customLong("site"), help: ArgumentHelp("A site name; repeat for each site.", valueName: "SITE"))
        var sites: [String] = []
        @Option(help: ArgumentHelp("Validity of the site certificates in days (a new CA gets at least ten years).", valueName: "N"))
        var days = 825
        @Flag(help: "Replace existing files, CA included.") var force = false
        @Flag(help: "Print the result as JSON.") var json = false

        func validate() throws {
            guard !sites.isEmpty else { throw ValidationError("name at least one --site") }
            var seen = Set<String>()
            for site in sites {
                if let problem = Self.problem(withSiteName: site) { throw ValidationError("bad site name '\(site)': \(problem)") }
                // DNS names compare case-insensitively, and so do some file systems.
                guard seen.insert(site.lowercased()).inserted else { throw ValidationError("site '\(site)' is named twice") }
            }
            guard (1...36_500).contains(days) else { throw ValidationError("--days must be between 1 and 36500, not \(days)") }
        }

        /// Why `name` cannot be a site name, or nil if it can.
        static func problem(withSiteName name: String) -> String? {
            let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
            if name.isEmpty || name.count > 64 { return "use 1 to 64 characters" }
            if !name.allSatisfy(allowed.contains) { return "use only letters, digits, '.', '_' and '-'" }
            if name.hasPrefix(".") || name.hasPrefix("-") { return "do not start with '.' or '-'" }
            if name.lowercased() == "ca" { return "'ca' is the CA's own file name" }
            return nil
        }

        func run() async throws {
            try await Failure.guarded {
                do {
                    let report = try issue()
                    if json { try JSONOutput.print(report) } else { Self.describe(report) }
                } catch let error as CertsError {
                    // Failure knows nothing of these errors; they carry their own exit status.
                    FileHandle.standardError.write(Data("tandemctl: \(error)\n".utf8))
                    throw ExitCode(error.exitCode)
                }
            }
        }

        /// Checks what exists, does all openssl work in a private staging folder inside DIR, then
        /// renames the finished files into place, so DIR never holds a half-written key or certificate.
        private func issue() throws -> CertsReport {
            let root = URL(fileURLWithPath: dir).standardizedFileURL.path
            let files = FileManager.default
            var isDirectory: ObjCBool = false
            if files.fileExists(atPath: root, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else { throw ValidationError("--dir \(root) is not a directory") }
            } else {
                try CertsError.io(root) {
                    try files.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                }
            }
            let path = { (name: String) in root + "/" + name }
            let caExists = (cert: files.fileExists(atPath: path("ca.pem")), key: files.fileExists(atPath: path("ca.key")))
            if !force {
                let taken = sites.flatMap { [path("\($0).pem"), path("\($0).key")] }.filter(files.fileExists(atPath:))
                guard taken.isEmpty else { throw CertsError.exists(taken) }
                if caExists.cert != caExists.key { throw CertsError.caIncomplete(root) }
            }
            let reuseCA = !force && caExists.cert

            let openssl = try OpenSSL()
            let stage = path(".certs-init-\(UUID().uuidString.prefix(8).lowercased())")
            try CertsError.io(stage) { try files.createDirectory(atPath: stage, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700]) }
            defer { try? files.removeItem(atPath: stage) }
            let staged = { (name: String) in stage + "/" + name }
            try CertsError.io(stage) { try Self.requestConfig.write(toFile: staged("req.cnf"), atomically: false, encoding: .utf8) }

            let caCert = reuseCA ? path("ca.pem") : staged("ca.pem")
            let caKey = reuseCA ? path("ca.key") : staged("ca.key")
            if reuseCA {
                let certified = try openssl.run("read the CA certificate's public key", ["x509", "-in", caCert, "-noout", "-pubkey"])
                let held = try openssl.run("read the CA key's public key", ["pkey", "-in", caKey, "-pubout"])
                guard certified == held else { throw CertsError.caMismatch(root) }
            } else {
                try openssl.generateKey(at: caKey, step: "generate the CA key")
                try openssl.run("create the CA certificate", [
                    "req", "-new", "-x509", "-config", staged("req.cnf"), "-extensions", "ca_ext", "-key", caKey,
                    "-subj", "/O=Tandem/CN=Tandem quick-start CA", "-sha256", "-days", String(max(days, 3650)),
                    "-set_serial", OpenSSL.randomSerial(), "-out", caCert,
                ])
            }

            var moves: [(from: String, to: String)] = reuseCA ? [] : [(caKey, path("ca.key")), (caCert, path("ca.pem"))]
            var issued: [CertsReport.Site] = []
            for site in sites {
                try CertsError.io(stage) { try Self.siteExtensions(site).write(toFile: staged("\(site).cnf"), atomically: false, encoding: .utf8) }
                try openssl.generateKey(at: staged("\(site).key"), step: "generate the key of \(site)")
                try openssl.run("create the certificate request of \(site)", [
                    "req", "-new", "-config", staged("req.cnf"), "-key", staged("\(site).key"), "-subj", "/CN=\(site)",
                    "-out", staged("\(site).csr"),
                ])
                try openssl.run("sign the certificate of \(site)", [
                    "x509", "-req", "-in", staged("\(site).csr"), "-CA", caCert, "-CAkey", caKey,
                    "-set_serial", OpenSSL.randomSerial(), "-days", String(days), "-sha256",
                    "-extfile", staged("\(site).cnf"), "-extensions", "site_ext", "-out", staged("\(site).pem"),
                ])
                moves += [(staged("\(site).key"), path("\(site).key")), (staged("\(site).pem"), path("\(site).pem"))]
                issued.append(.init(site: site, certificate: path("\(site).pem"), key: path("\(site).key"),
                                    notAfter: try openssl.notAfter(of: staged("\(site).pem"))))
            }
            let caNotAfter = try openssl.notAfter(of: caCert)

            // Keys first: a crash part-way leaves no certificate without its key.
            for move in moves.sorted(by: { $0.from.hasSuffix(".key") && !$1.from.hasSuffix(".key") }) {
                try CertsError.io(move.to) {
                    if move.from.hasSuffix(".key") { try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: move.from) }
                    guard rename(move.from, move.to) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
                }
            }
            if force && caExists.cert { Self.warnAboutOrphans(in: root, reissued: sites) }
            return CertsReport(dir: root, ca: path("ca.pem"), caCreated: !reuseCA, caNotAfter: caNotAfter, sites: issued)
        }

        /// After --force replaced the CA, certificates of sites not named this time no longer verify.
        private static func warnAboutOrphans(in root: String, reissued: [String]) {
            let keep = Set(["ca.pem"] + reissued.map { "\($0).pem" })
            let orphans = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
                .filter { $0.hasSuffix(".pem") && !keep.contains($0) }.sorted()
            guard !orphans.isEmpty else { return }
            FileHandle.standardError.write(Data("""
                tandemctl: note: the new CA does not sign \(orphans.joined(separator: ", ")) in \(root); \
                delete those sites' files and run certs init without --force to reissue them

                """.utf8))
        }

        private static func describe(_ report: CertsReport) {
            let day = ISO8601DateFormatter()
            day.formatOptions = [.withFullDate]
            print("\(report.caCreated ? "created" : "reused") CA \(report.ca) (valid until \(day.string(from: report.caNotAfter)))")
            for site in report.sites {
                print("issued \(site.site): \(site.certificate), key \(site.key) (valid until \(day.string(from: site.notAfter)))")
                if site.notAfter > report.caNotAfter {
                    print("  note: the CA expires first; links stop verifying on \(day.string(from: report.caNotAfter))")
                }
            }
            print("\nin each site's tandem.yaml:")
            let width = report.sites.map(\.site.count).max() ?? 0
            for site in report.sites {
                let label = (site.site + ":").padding(toLength: width + 1, withPad: " ", startingAt: 0)
                print("  \(label)  tls: {ca: \(yaml(report.ca)), certificate: \(yaml(site.certificate)), key: \(yaml(site.key))}")
            }
        }

        /// A path as a YAML flow scalar, quoted unless it is plainly safe.
        private static func yaml(_ path: String) -> String {
            let plain = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-")
            if path.allSatisfy(plain.contains) { return path }
            return "\"" + path.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }

        /// Our own `req` config, so the system's default extensions never slip in.
        private static let requestConfig = """
            [req]
            distinguished_name = dn
            [dn]
            [ca_ext]
            basicConstraints = critical, CA:TRUE
            keyUsage = critical, keyCertSign, cRLSign
            subjectKeyIdentifier = hash

            """

        /// Site names are validated to letters, digits, '.', '_' and '-', so they are safe here.
        private static func siteExtensions(_ site: String) -> String {
            """
            [site_ext]
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature
            extendedKeyUsage = serverAuth, clientAuth
            subjectAltName = DNS:\(site)
            subjectKeyIdentifier = hash
            authorityKeyIdentifier = keyid, issuer

            """
        }
    }
}

/// The `--json` document of `certs init`.
struct CertsReport: Encodable {
    struct Site: Encodable {
        let site: String
        let certificate: String
        let key: String
        let notAfter: Date
    }

    let dir: String
    let ca: String
    let caCreated: Bool
    let caNotAfter: Date
    let sites: [Site]
}

/// Why `certs init` stopped, each with its exit status (see `tandemctl --help`).
enum CertsError: Error, CustomStringConvertible {
    case exists([String])
    case caIncomplete(String)
    case caMismatch(String)
    case opensslMissing
    case opensslFailed(step: String, status: Int32, stderr: String)
    case io(String, String)

    var exitCode: Int32 {
        switch self {
        case .exists, .caIncomplete, .caMismatch: 9
        case .io: 7
        case .opensslMissing, .opensslFailed: 1
        }
    }

    var description: String {
        switch self {
        case .exists(let paths):
            "\(paths.joined(separator: ", ")) already exist\(paths.count == 1 ? "s" : ""); pass --force to replace them (and the CA)"
        case .caIncomplete(let dir):
            "\(dir) holds only one of ca.pem and ca.key, so its CA cannot sign; restore the other or pass --force for a new CA"
        case .caMismatch(let dir):
            "\(dir)/ca.key does not belong to \(dir)/ca.pem; restore the matching key or pass --force for a new CA"
        case .opensslMissing:
            "the openssl tool is not on PATH; install it (Debian: apt-get install openssl)"
        case .opensslFailed(let step, let status, let stderr):
            "openssl could not \(step) (exit \(status)): \(stderr.split(whereSeparator: \.isNewline).joined(separator: " / "))"
        case .io(let path, let reason):
            "cannot write \(path): \(reason)"
        }
    }

    /// Runs a file-system step, reporting a failure as an I/O error on `path`.
    static func io<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw CertsError.io(path, error.localizedDescription) }
    }
}

/// The `openssl` command-line tool, run with an argument array (never through a shell).
struct OpenSSL {
    let executable: URL

    init() throws {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let found = path.split(separator: ":").map { "\($0)/openssl" }.first(where: FileManager.default.isExecutableFile(atPath:))
        guard let found else { throw CertsError.opensslMissing }
        executable = URL(fileURLWithPath: found)
    }

    /// Runs one step and returns its stdout; a failure names the step and carries openssl's stderr.
    @discardableResult
    func run(_ step: String, _ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw CertsError.opensslFailed(step: step, status: -1, stderr: "\(error)") }
        // Each step prints at most a few hundred bytes, far below a pipe's buffer, so reading
        // one pipe to its end cannot leave openssl blocked on the other.
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationReason == .exit && process.terminationStatus == 0 else {
            throw CertsError.opensslFailed(step: step, status: process.terminationStatus,
                                           stderr: String(decoding: errors, as: UTF8.self))
        }
        return output
    }

    func generateKey(at path: String, step: String) throws {
        try run(step, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                       "-pkeyopt", "ec_param_enc:named_curve", "-out", path])
    }

    /// The certificate's notAfter, as openssl prints it: `notAfter=Mar  9 12:00:00 2028 GMT`.
    func notAfter(of certificate: String) throws -> Date {
        let step = "read the expiry of \(certificate)"
        let line = String(decoding: try run(step, ["x509", "-in", certificate, "-noout", "-enddate"]), as: UTF8.self)
        let value = line.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "notAfter=", with: "")
            .split(separator: " ").joined(separator: " ")
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "MMM d HH:mm:ss yyyy 'GMT'"
        guard let date = formatter.date(from: value) else {
            throw CertsError.opensslFailed(step: step, status: 0, stderr: "unexpected output '\(value)'")
        }
        return date
    }

    /// A positive 127-bit serial number from the system's CSPRNG, as `-set_serial` takes it.
    static func randomSerial() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[0] = bytes[0] & 0x7F | 0x40
        return "0x" + bytes.map { String(format: "%02x", $0) }.joined()
    }
}
