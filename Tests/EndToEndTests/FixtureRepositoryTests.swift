import Foundation
import Testing
import TandemTestSupport

/// Repositories written by earlier versions stay readable and writable.
@Suite struct FixtureRepositoryTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    /// The first `sm4` construction (SM4-CTR + HMAC-SM3), written before SM4-GCM existed.
    @Test func theFirstSM4RepositoryRestoresChecksAndTakesNewBackups() throws {
        let fixture = Self.fixtures + "/sm4-ctr-v1"
        let scratch = Scratch()
        let copy = Process()
        copy.executableURL = URL(fileURLWithPath: "/bin/cp")
        copy.arguments = ["-a", fixture + "/repo", scratch.file("repo")]
        try copy.run()
        copy.waitUntilExit()
        let cli = CLIRunner(repo: scratch.file("repo"), passphrase: "sm4 fixture passphrase")
        let repo = ["--repo", cli.repo, "--tenant", "gov"]
        let source = fixture + "/source"

        try cli.run(["restore"] + repo + ["384b3779c4cf", "--target", scratch.file("image")]).expectSuccess()
        #expect(FileManager.default.contents(atPath: scratch.file("image")) == FileManager.default.contents(atPath: source + "/image.raw"))
        try cli.run(["restore"] + repo + ["bffe69a6a64e", "--target", scratch.file("tree")]).expectSuccess()
        for file in ["docs/notes.txt", "records.bin", "empty"] {
            #expect(FileManager.default.contents(atPath: scratch.file("tree/" + file)) == FileManager.default.contents(atPath: source + "/tree/" + file), "\(file)")
        }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: scratch.file("tree/link")) == "docs/notes.txt")
        let check = try cli.json(["check"] + repo + ["--read-data"])
        #expect(check["ok"] as? Bool == true, "\(check)")

        // It keeps writing: a new backup deduplicates against the old blobs and restores.
        let again = try cli.json(["backup"] + repo + [source + "/image.raw"])
        #expect(again["bytes_new"] as? Int == 0)
        let id = try #require(again["snapshot_id"] as? String)
        try cli.run(["restore"] + repo + [id, "--target", scratch.file("again")]).expectSuccess()
        #expect(FileManager.default.contents(atPath: scratch.file("again")) == FileManager.default.contents(atPath: source + "/image.raw"))
    }
}
