import Foundation
import Testing
@testable import TandemPolicy
import TandemCore

/// The package root, from this file's path.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

@Suite struct ConfigSampleTests {
    @Test func theExampleSiteConfigAndItsTenantsParse() throws {
        let set = try PolicySet.load(configPath: packageRoot + "/Config/tandem.yaml")
        #expect(set.site.siteName == "home-a")
        #expect(set.site.peers.map(\.name) == ["home-b", "remote"])
        #expect(set.site.shipping.bandwidth.defaultRate == 200 << 20 && set.site.shipping.bandwidth.windows.map(\.rate) == [50 << 20])
        #expect(set.site.heartbeat.fingerprint == "1000/3/10000/500")
        #expect(set.tenants.map(\.tenant) == ["finance", "records"])
        let finance = try #require(set.tenant("finance"))
        #expect(finance.sources.map(\.name) == ["ledger-db", "documents", "ledger-vm"])
        #expect(finance.schedules.count == 2)
        #expect(finance.retention(forSite: "remote")?.keepYearly == 7)
        #expect(finance.retention(forSite: "home-a")?.keepLast == 4)
        #expect(finance.quota.hard == 2 << 40)
        #expect(finance.remoteRPO == 3600 && finance.rpo == 13 * 3600)
        #expect(finance.key == .command(["/usr/local/bin/kms-fetch", "--key", "tandem/finance"]))
        #expect(finance.source(named: "ledger-vm")?.pre == [.shell("lvcreate --snapshot --name ledger-snap --size 10G vg0/ledger")])
        let records = try #require(set.tenant("records"))
        let window = try TimeWindow(parsing: "22:00-06:00")
        #expect(records.suite == .sm4gcm && records.window == window)
    }

    @Test func anS3SiteConfigParses() throws {
        let set = try PolicySet.load(configPath: packageRoot + "/Config/samples/site-s3.yaml")
        guard case .s3(let s3) = set.site.repository else {
            Issue.record("expected an s3 repository")
            return
        }
        #expect(s3.endpoint == "https://rgw.dr.example.org:7480" && s3.bucket == "tandem-remote" && s3.prefix == "repo")
        #expect(s3.objectLockDays == 400 && s3.secretKeyFile == "/etc/tandem/s3.secret")
        #expect(set.site.role == .remote)
    }

    /// The three-site demo: two near sites, each home to one tenant and twin of the other,
    /// and the remote site as the witness.
    @Test func theDemoConfigsParse() throws {
        for site in ["home-a", "home-b"] {
            let set = try PolicySet.load(configPath: packageRoot + "/Config/demo/\(site).yaml")
            #expect(set.site.siteName == site && set.site.role == .near)
            #expect(set.site.controlSocket.hasSuffix("/.tandem-demo/\(site)/control.sock"))
            #expect(set.tenants.map(\.tenant) == ["demo-a", "demo-b"])
            #expect(set.tenants.map(\.homeSite) == ["home-a", "home-b"])
            #expect(Set(set.site.peers.map(\.name)) == ["home-a", "home-b", "remote"].filter { $0 != site }.reduce(into: Set<String>()) { $0.insert($1) })
        }
        let remote = try PolicySet.load(configPath: packageRoot + "/Config/demo/remote.yaml")
        #expect(remote.site.role == .remote && remote.tenants.allSatisfy { $0.key == nil })
    }

    /// Every file under Config/ that is not an invalid sample parses (monitoring/ holds
    /// Prometheus rules, checked by promtool in AlertRulesTests).
    @Test func everyExampleFileUnderConfigParses() throws {
        let root = packageRoot + "/Config"
        let files = FileManager.default.enumerator(atPath: root)!.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".yaml") && !$0.hasPrefix("samples/invalid") && !$0.hasPrefix("monitoring/") }
        #expect(files.count >= 4)
        for file in files {
            #expect(throws: Never.self, "\(file)") { _ = try PolicySet.validateFile(root + "/" + file) }
        }
    }

    static var invalidSamples: [String] {
        let root = packageRoot + "/Config/samples/invalid"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return entries.sorted().map { entry in
            var isDirectory: ObjCBool = false
            FileManager.default.fileExists(atPath: root + "/" + entry, isDirectory: &isDirectory)
            return isDirectory.boolValue ? "\(entry)/tandem.yaml" : entry
        }
    }

    /// Each invalid sample fails, and its first line says which message it must produce.
    @Test(arguments: invalidSamples)
    func invalidSampleFailsWithItsExpectedMessage(_ name: String) throws {
        let path = packageRoot + "/Config/samples/invalid/" + name
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let first = try #require(text.split(separator: "\n").first)
        #expect(first.hasPrefix("# expect: "), "\(name) must start with '# expect: MESSAGE'")
        let expected = String(first.dropFirst("# expect: ".count))
        do {
            if name.hasSuffix("/tandem.yaml") {
                _ = try PolicySet.load(configPath: path)
            } else {
                _ = try PolicySet.validateFile(path)
            }
            Issue.record("\(name) validated but should fail with: \(expected)")
        } catch {
            #expect(error.description.contains(expected), "\(name): got \(error.description)")
            // Every error names a file and a line.
            for problem in error.errors {
                #expect(problem.file.hasPrefix("/") && problem.line > 0, "\(problem)")
            }
        }
    }

    @Test func thereAreInvalidSamplesForEveryRequiredCase() {
        let names = Set(Self.invalidSamples)
        for required in ["malformed.yaml", "unknown-key.yaml", "bad-cron-minute.yaml", "wrong-type.yaml",
                         "retention-keeps-nothing.yaml", "duplicate-tenant/tandem.yaml", "cron-never-fires.yaml"] {
            #expect(names.contains(required), "missing sample \(required)")
        }
    }

    @Test func errorsNameFileLineColumnAndField() throws {
        let text = "tenant: t\nkey: {key_file: /k}\nsources:\n  - name: a\n    directory: /srv\nschedules:\n  - name: s\n    cron: \"61 * * * *\"\n    sources: [a]\n"
        do {
            _ = try TenantPolicy.parse(text, file: "/etc/tandem/tenants.d/t.yaml")
            Issue.record("should fail")
        } catch {
            let problem = try #require(error.errors.first)
            #expect(problem.line == 8 && problem.field == "schedules[0].cron")
            #expect(problem.description == "/etc/tandem/tenants.d/t.yaml:8:11: schedules[0].cron: minute field '61' is out of range 0-59")
        }
    }

    /// `sm4` is the GM suite new tenants should get (SM4-GCM); each suite is also named.
    @Test func suiteNames() throws {
        for (name, suite) in [("aes256gcm", CryptoSuite.aes256gcm), ("sm4", .sm4gcm), ("sm4gcm", .sm4gcm), ("sm4ctr", .sm4ctr)] {
            let policy = try TenantPolicy.parse("tenant: t\nkey: {key_file: /k}\nsuite: \(name)\nsources:\n  - {name: a, directory: /srv}\n", file: "/x.yaml")
            #expect(policy.suite == suite, "\(name)")
        }
        let defaulted = try TenantPolicy.parse("tenant: t\nkey: {key_file: /k}\nsources:\n  - {name: a, directory: /srv}\n", file: "/x.yaml")
        #expect(defaulted.suite == .aes256gcm)
        do {
            _ = try TenantPolicy.parse("tenant: t\nkey: {key_file: /k}\nsuite: sm9\nsources:\n  - {name: a, directory: /srv}\n", file: "/x.yaml")
            Issue.record("sm9 accepted")
        } catch {
            #expect(error.errors.first?.description == "/x.yaml:3:8: suite: 'sm9' is not one of: aes256gcm, sm4, sm4gcm, sm4ctr")
        }
    }

    @Test func allProblemsOfAFileAreReportedAtOnce() throws {
        let text = "tenant: t\nkey: {key_file: /k}\nsuite: rot13\npriority: 11\nsources:\n  - {name: a, directory: /srv}\nbogus: 1\n"
        do {
            _ = try TenantPolicy.parse(text, file: "/x.yaml")
            Issue.record("should fail")
        } catch {
            #expect(Set(error.errors.map(\.field)) == ["suite", "priority", "bogus"])
        }
    }
}

/// Problems with the file as a whole still name a line and column, and never echo the file.
@Suite struct WholeFileErrorTests {
    func problems(_ bytes: [UInt8]) throws -> [ConfigError] {
        let path = NSTemporaryDirectory() + "tandem-policy-\(UUID().uuidString).yaml"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try PolicySet.validateFile(path)
        } catch {
            return error.errors
        }
        Issue.record("validated")
        return []
    }

    @Test func notUTF8NamesTheFirstBadByte() throws {
        let found = try problems(Array("tenant: a\nkey: {key_file: /k}\n# caf".utf8) + [0xE9] + Array("\n".utf8))
        #expect(found.map(\.description).first?.hasSuffix(":3:6: not UTF-8 text") == true, "\(found)")
    }

    @Test func aDuplicateInsideAListItemNamesTheDuplicate() throws {
        let text = "tenant: a\nkey: {key_file: /k}\nsources:\n  - name: data\n    directory: /srv\n    name: other\n"
        let found = try problems(Array(text.utf8))
        #expect(found.count == 1 && found[0].line == 6 && found[0].column == 5, "\(found)")
        #expect(found[0].message == "duplicate key 'name' (first at line 4)")
        #expect(!found[0].description.contains("directory"), "the file was echoed: \(found[0])")
    }

    @Test func aReaderErrorHasAPlace() throws {
        // A control character libyaml's reader refuses.
        let found = try problems(Array("tenant: a\nkey: \u{07}x\n".utf8))
        #expect(found.first.map { $0.line >= 1 && $0.column >= 1 } == true, "\(found)")
        #expect(found.first?.description.contains(":2:") == true, "\(found)")
    }
}
