import Foundation
import Testing
@testable import TandemCodecs

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Gate for the throughput checks: `TANDEM_BENCH=1 swift test -c release --filter Throughput`.
enum Benchmarks {
    static var enabled: Bool { getenv("TANDEM_BENCH") != nil }

    /// Runs `body` (processing `bytesPerCall` bytes) repeatedly for about
    /// `seconds` per round, returns the best of `rounds` in GB/s (10^9 B/s).
    static func measure(_ name: String, bytesPerCall: Int, seconds: Double = 0.4, rounds: Int = 5,
                        _ body: () throws -> Void) rethrows -> Double {
        let clock = ContinuousClock()
        var best = 0.0
        for _ in 0..<rounds {
            var calls = 0
            let start = clock.now
            var elapsed = 0.0
            repeat {
                for _ in 0..<8 { try body() }
                calls += 8
                let d = clock.now - start
                elapsed = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
            } while elapsed < seconds
            best = max(best, Double(calls * bytesPerCall) / elapsed / 1e9)
        }
        let mbps = Int(best * 1000)
        FileHandle.standardError.write(Data(("THROUGHPUT \(name): \(mbps) MB/s" + "\n").utf8))
        return best
    }
}

@Suite(.serialized, .enabled(if: Benchmarks.enabled))
struct ThroughputTests {
    @Test func aesGCM() throws {
        let cipher = try AES256GCMCipher(key: SecretKey.random(count: 32))
        let msg = SeededRNG(seed: 1).bytesCopy(1 << 20)
        let sealed = try cipher.seal(msg)
        let seal = try msg.withUnsafeBytes { p in
            try Benchmarks.measure("AES-256-GCM seal 1 MiB", bytesPerCall: p.count) { _ = try cipher.seal(p, associatedData: []) }
        }
        _ = try sealed.withUnsafeBytes { p in
            try Benchmarks.measure("AES-256-GCM open 1 MiB", bytesPerCall: msg.count) { _ = try cipher.open(p, associatedData: []) }
        }
        #expect(seal > 1.5, "AES-256-GCM seal below 1.5 GB/s")
    }

    @Test func hmacAndHash() throws {
        let msg = SeededRNG(seed: 2).bytesCopy(64 << 10)
        let h = KeyedHash(.sha256, key: SecretKey.random(count: 32))
        let hmac = msg.withUnsafeBytes { p in
            Benchmarks.measure("HMAC-SHA-256 64 KiB", bytesPerCall: p.count) { _ = h.mac(p) }
        }
        let small = [UInt8](repeating: 7, count: 32)
        let smallRate = small.withUnsafeBytes { p in
            Benchmarks.measure("HMAC-SHA-256 32 B", bytesPerCall: 32) { _ = h.mac(p) }
        }
        FileHandle.standardError.write(Data(("THROUGHPUT HMAC-SHA-256 32 B: \(Int(1e9 * smallRate / 32 / 1000)) k ops/s, \(Int(32 / smallRate)) ns/op" + "\n").utf8))
        var out = [UInt8](repeating: 0, count: 32)
        let smallInto = small.withUnsafeBytes { p in
            out.withUnsafeMutableBytes { o in
                Benchmarks.measure("HMAC-SHA-256 32 B into buffer", bytesPerCall: 32) { h.mac(p, into: o) }
            }
        }
        FileHandle.standardError.write(Data(("THROUGHPUT HMAC-SHA-256 32 B into buffer: \(Int(32 / smallInto)) ns/op" + "\n").utf8))
        let hasher = Hasher256(.sha256)
        _ = msg.withUnsafeBytes { p in
            Benchmarks.measure("SHA-256 64 KiB", bytesPerCall: p.count) { hasher.update(p); _ = hasher.finalize() }
        }
        let sm3 = KeyedHash(.sm3, key: SecretKey.random(count: 32))
        _ = msg.withUnsafeBytes { p in
            Benchmarks.measure("HMAC-SM3 64 KiB", bytesPerCall: p.count, rounds: 3) { _ = sm3.mac(p) }
        }
        #expect(hmac > 1.0, "HMAC-SHA-256 below 1 GB/s")
    }

    @Test func sm4() throws {
        let cipher = try SM4CTRHMACSM3Cipher(encryptionKey: SecretKey.random(count: 16), macKey: SecretKey.random(count: 32))
        let msg = SeededRNG(seed: 3).bytesCopy(1 << 20)
        let iv = [UInt8](repeating: 1, count: 16)
        _ = try Benchmarks.measure("SM4-CTR raw 1 MiB", bytesPerCall: msg.count, rounds: 3) { _ = try cipher.ctrTransform(iv: iv, msg) }
        _ = try msg.withUnsafeBytes { p in
            try Benchmarks.measure("SM4-CTR+HMAC-SM3 seal 1 MiB", bytesPerCall: p.count, rounds: 3) {
                _ = try cipher.seal(p, associatedData: [])
            }
        }
        let sealed = try cipher.seal(msg)
        _ = try sealed.withUnsafeBytes { p in
            try Benchmarks.measure("SM4-CTR+HMAC-SM3 open 1 MiB", bytesPerCall: msg.count, rounds: 3) {
                _ = try cipher.open(p, associatedData: [])
            }
        }
    }

    @Test func compression() throws {
        let text = sampleText(1 << 20)
        for level: Int32 in [1, 3] {
            let codec = ZstdCodec(level: level)
            let frame = try codec.compress(text)
            _ = try Benchmarks.measure("zstd-\(level) compress 1 MiB text (ratio \(text.count * 100 / frame.count)%)",
                                       bytesPerCall: text.count, rounds: 3) { _ = try codec.compress(text) }
            _ = try Benchmarks.measure("zstd-\(level) decompress 1 MiB text", bytesPerCall: text.count, rounds: 3) {
                _ = try codec.decompress(frame, maxSize: text.count)
            }
        }
        let block = try LZ4Codec.compress(text)
        _ = try Benchmarks.measure("lz4 compress 1 MiB text", bytesPerCall: text.count, rounds: 3) { _ = try LZ4Codec.compress(text) }
        _ = try Benchmarks.measure("lz4 decompress 1 MiB text", bytesPerCall: text.count, rounds: 3) {
            _ = try LZ4Codec.decompress(block, originalSize: text.count)
        }
    }
}
