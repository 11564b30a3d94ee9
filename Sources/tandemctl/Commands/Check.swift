import ArgumentParser
import Foundation
import TandemCore
import TandemStore

/// `tandemctl check --repo DIR [--tenant T] [--read-data]`.
struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a repository's structure, and with --read-data every byte of it.",
        discussion: """
            Without --tenant every tenant is checked: those the passphrase or key file opens fully,
            the others (or all, when no key is given) without their key: pack headers, footers and,
            with --read-data, each pack's SHA-256 against its name. Exits 3 when anything is damaged.
            """)

    @OptionGroup var location: RepositoryChoice
    @Option(help: "Check only this tenant.") var tenant: String?
    @Option(name: .customLong("key-file"), help: ArgumentHelp("Unlock with this key file instead of TANDEM_PASSPHRASE.", valueName: "FILE"))
    var keyFile: String?
    @Flag(name: .customLong("read-data"), help: "Also read, decrypt and re-hash every blob.") var readData = false
    @Flag(name: .customLong("rebuild-index"), help: "Rebuild the index and catalog from packs and manifests first.") var rebuildIndex = false
    @Flag(help: "Print the result as JSON.") var json = false

    struct Output: Encodable {
        let ok: Bool
        let tenants: [CheckReport]
        let keyless: [String]
    }

    func run() async throws {
        try await Failure.guarded {
            guard let repository = location.offline else {
                guard let tenant else { throw ValidationError("through the daemon, check needs --tenant T (or use --repo DIR)") }
                let report = try await location.daemon.client().post("/v1/tenants/\(tenant)/check", body: CheckRequest(readData: readData),
                                                                     as: CheckReport.self)
                if json {
                    try JSONOutput.print(Output(ok: report.ok, tenants: [report], keyless: []))
                } else {
                    print("tenant \(tenant): \(report.packs) packs, \(report.blobs) blobs, \(report.snapshots) snapshots: "
                          + (report.ok ? "no problems" : "\(report.problems.count) problem(s)"))
                    for problem in report.problems { print("  \(problem)") }
                }
                if !report.ok { throw ExitCode(3) }
                return
            }
            let repo = try await repository.open()
            let names: [String]
            if let tenant { names = [tenant] } else { names = try await repo.tenantNames() }
            let secret = try? Secrets.read(keyFile: keyFile, variable: "TANDEM_PASSPHRASE")
            var reports: [CheckReport] = []
            var keyless: [String] = []
            for name in names {
                let opened: TenantRepository?
                if let secret {
                    do {
                        opened = try await TenantRepository.open(in: repo, name: name, secret: secret,
                                                                 indexPath: try repository.indexPath(tenant: name))
                    } catch KeySlotError.wrongKey where tenant == nil {
                        opened = nil
                    }
                } else if tenant != nil {
                    _ = try Secrets.read(keyFile: keyFile, variable: "TANDEM_PASSPHRASE")
                    opened = nil
                } else {
                    opened = nil
                }
                if let opened {
                    if rebuildIndex { _ = try await opened.rebuildIndex() }
                    let report = try await ProgressMeter.run(label: "check \(name)", total: nil) { meter in
                        try await opened.check(readData: readData, progress: { meter.add($0) })
                    }
                    reports.append(report)
                } else {
                    keyless.append(name)
                    reports.append(try await repo.checkWithoutKey(tenant: name, readData: readData))
                }
            }
            let ok = reports.allSatisfy(\.ok)
            if json {
                try JSONOutput.print(Output(ok: ok, tenants: reports, keyless: keyless))
            } else {
                for report in reports {
                    let mode = keyless.contains(report.tenant) ? " (without key)" : ""
                    print("tenant \(report.tenant)\(mode): \(report.packs) packs, \(report.blobs) blobs, \(report.snapshots) snapshots"
                          + (readData ? ", \(Human.bytes(report.bytesRead)) read" : "") + (report.ok ? ": ok" : ": \(report.problems.count) problem(s)"))
                    for problem in report.problems { print("  \(problem.object): \(problem.problem)") }
                }
                if names.isEmpty { print("no tenants") }
            }
            if !ok { throw ExitCode(3) }
        }
    }
}
