import Testing
import Foundation
import TandemTestSupport
import TandemCodecs
import TandemCore
@testable import TandemStore

/// A temporary folder removed when the test ends.
final class TemporaryDirectory {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "tandem-test-" + UUID().uuidString.prefix(8).lowercased()
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
}

/// Deterministic bytes like a disk image: random, text and zero runs.
func imageBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    var out = [UInt8]()
    out.reserveCapacity(count)
    let text = Array("tenant backup replica site snapshot ".utf8)
    while out.count < count {
        let run = Int(next() % 100_000) + 1000
        switch next() % 3 {
        case 0: for _ in 0..<run / 8 { withUnsafeBytes(of: next()) { out.append(contentsOf: $0) } }
        case 1: for i in 0..<run { out.append(text[i % text.count]) }
        default: out.append(contentsOf: repeatElement(0, count: run))
        }
    }
    return Array(out.prefix(count))
}

let passphrase = KeySecret.passphrase(Array("test passphrase".utf8))

/// A fresh local repository with one tenant.
/// A fixed master key, so chunk boundaries (keyed by it) and every count derived from them are
/// the same on every run.
let testMaster = SecretKey(bytes: Array(100..<132))

func makeTenant(_ dir: TemporaryDirectory, name: String = "acme", suite: CryptoSuite = .aes256gcm,
                compression: Compression = .zstd(level: 3), chunker: ChunkerParameters = .defaultCDC) async throws -> TenantRepository {
    let repository = try await Repository.initialize(backend: LocalBackend(root: dir.file("repo")), now: Date())
    return try await TenantRepository.create(in: repository, name: name, suite: suite, chunker: chunker,
                                             compression: compression, secret: passphrase, now: Date(), master: testMaster)
}

func reopen(_ dir: TemporaryDirectory, name: String = "acme", secret: KeySecret = passphrase) async throws -> TenantRepository {
    try await TenantRepository.open(in: try await Repository.open(backend: LocalBackend(root: dir.file("repo"))), name: name, secret: secret)
}

func write(_ bytes: [UInt8], to path: String) {
    FileManager.default.createFile(atPath: path, contents: Data(bytes))
}

func read(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path) ?? Data()) }

/// Small packs, so tests exercise many of them.
func smallPacks() -> BackupOptions {
    var options = BackupOptions()
    options.packSize = 1 << 20
    return options
}


/// Runs `body` with standard output redirected into the file at `path`.
func withStandardOutput(to path: String, _ body: () async throws -> Void) async rethrows {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let saved = dup(1)
    dup2(fd, 1)
    defer {
        dup2(saved, 1)
        close(fd)
        close(saved)
    }
    try await body()
}
