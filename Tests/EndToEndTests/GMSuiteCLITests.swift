import Foundation
import Testing
import TandemTestSupport

/// The GM/T suite as an operator meets it through tandemctl: `--suite sm4` creates an SM4-GCM
/// tenant whose key slot rests on PBKDF2-HMAC-SM3, the first SM construction stays selectable by
/// name, and bad suites, wrong passphrases and damaged blobs get their own clear answers.
@Suite struct GMSuiteCLITests {
    @Test func sm4CreatesTheSM4GCMSuiteAndItBacksUpRestoresAndChecks() throws {
        let scratch = Scratch()
        let cli = CLIRunner(repo: scratch.file("repo"))
        let repo = ["--repo", cli.repo]
        try cli.run(["init"] + repo).expectSuccess()
        let created = try cli.run(["tenant", "create"] + repo + ["--tenant", "gov", "--suite", "sm4"])
        try created.expectSuccess()
        #expect(created.stdout.contains("suite sm4gcm"), "\(created.stdout)")
        let settings = try String(contentsOfFile: scratch.file("repo/tenants/gov/tenant.json"), encoding: .utf8)
        #expect(settings.contains("\"suite\" : \"sm4gcm\"") || settings.contains("\"suite\":\"sm4gcm\""), "\(settings)")
        let slots = try FileManager.default.contentsOfDirectory(atPath: scratch.file("repo/tenants/gov/keys"))
        let slot = try String(contentsOfFile: scratch.file("repo/tenants/gov/keys/" + slots[0]), encoding: .utf8)
        #expect(slot.contains("pbkdf2-hmac-sm3") && !slot.contains("scrypt"), "\(slot)")

        let image = sampleBytes(2 << 20, seed: 17)
        try image.write(to: URL(fileURLWithPath: scratch.file("img")))
        let backup = try cli.json(["backup"] + repo + ["--tenant", "gov", scratch.file("img")])
        let id = try #require(backup["snapshot_id"] as? String)
        try cli.run(["restore"] + repo + ["--tenant", "gov", id, "--target", scratch.file("back")]).expectSuccess()
        expectSameBytes(FileManager.default.contents(atPath: scratch.file("back")), image)
        try cli.run(["restore"] + repo + ["--tenant", "gov", id, "--target", scratch.file("verified"), "--verify-ids"]).expectSuccess()
        expectSameBytes(FileManager.default.contents(atPath: scratch.file("verified")), image)
        #expect(try cli.json(["check"] + repo + ["--tenant", "gov", "--read-data"])["ok"] as? Bool == true)

        // A wrong passphrase on an SM slot is exit 4, as on any other.
        let wrong = try cli.run(["snapshots"] + repo + ["--tenant", "gov"], extraEnvironment: ["TANDEM_PASSPHRASE": "nope"])
        #expect(wrong.status == 4 && wrong.stderr.contains("no key slot opens"), "\(wrong.stderr)")

        // A flipped byte in the middle of the pack is refused: exit 3, nothing written.
        let packs = try FileManager.default.subpathsOfDirectory(atPath: scratch.file("repo/tenants/gov/packs"))
            .filter { $0.count > 40 }.map { scratch.file("repo/tenants/gov/packs/" + $0) }
        let pack = try #require(packs.max { (try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int) ?? 0 < (try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0 })
        var bytes = try #require(FileManager.default.contents(atPath: pack))
        bytes[bytes.count / 2] ^= 0x04
        try bytes.write(to: URL(fileURLWithPath: pack))
        let damaged = try cli.run(["restore"] + repo + ["--tenant", "gov", id, "--target", scratch.file("damaged")])
        #expect(damaged.status == 3 && damaged.stderr.contains("fails authentication"), "\(damaged.status) \(damaged.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("damaged")))
    }

    @Test func theFirstSMConstructionStaysSelectableAndBadSuitesAreNamed() throws {
        let scratch = Scratch()
        let cli = CLIRunner(repo: scratch.file("repo"))
        let repo = ["--repo", cli.repo]
        try cli.run(["init"] + repo).expectSuccess()
        let old = try cli.run(["tenant", "create"] + repo + ["--tenant", "old", "--suite", "sm4ctr"])
        try old.expectSuccess()
        #expect(old.stdout.contains("suite sm4ctr"), "\(old.stdout)")
        // Stored under the name it always had, so earlier versions' repositories read alike.
        let settings = try String(contentsOfFile: scratch.file("repo/tenants/old/tenant.json"), encoding: .utf8)
        #expect(settings.contains("\"sm4\""), "\(settings)")
        try Data("sm4ctr\n".utf8).write(to: URL(fileURLWithPath: scratch.file("f")))
        try cli.run(["backup"] + repo + ["--tenant", "old", scratch.file("f")]).expectSuccess()
        #expect(try cli.run(["restore"] + repo + ["--tenant", "old", "latest", "--target", "-"]).stdout == "sm4ctr\n")

        let unknown = try cli.run(["tenant", "create"] + repo + ["--tenant", "x", "--suite", "sm9"])
        #expect(unknown.status == 64 && unknown.stderr.contains("--suite must be one of aes256gcm, sm4, sm4gcm, sm4ctr, not 'sm9'"), "\(unknown.stderr)")
        // A settings file naming a suite this build does not know: one line, the suite named.
        let edited = settings.replacingOccurrences(of: "\"sm4\"", with: "\"sm9\"")
        try edited.write(toFile: scratch.file("repo/tenants/old/tenant.json"), atomically: true, encoding: .utf8)
        let future = try cli.run(["snapshots"] + repo + ["--tenant", "old"])
        #expect(future.status == 3 && future.stderr.contains("crypto suite 'sm9' is not one this build knows"), "\(future.stderr)")
        #expect(future.stderr.split(separator: "\n").count == 1)
    }
}
