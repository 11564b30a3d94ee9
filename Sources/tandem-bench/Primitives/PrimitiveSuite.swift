import Foundation
import TandemCodecs
import TandemCore

/// One primitive's measured speed over the whole mixed buffer.
struct PrimitiveResult: Encodable {
    let name: String
    /// Bytes of input processed (uncompressed/plaintext side for every codec and cipher).
    let inputBytes: Int
    let seconds: Double
    let megabytesPerSecond: Double
    /// Threads used (1 unless the name says otherwise).
    let threads: Int
    /// For compressors: output bytes / input bytes.
    let outputRatio: Double?
    let note: String?
}

/// Runs each Tandem primitive once over the whole mixed buffer and times it: chunkers over the
/// buffer as one stream, hashes/MACs/codecs/ciphers on 64 KiB messages, and `BlobSealer` on the
/// buffer's real FastCDC chunks. Fixed keys: speed does not depend on them.
final class PrimitiveSuite {
    let buffer: [UInt8]
    let block = 64 << 10
    private(set) var results: [PrimitiveResult] = []
    private let gear = GearTable(seed: Array(repeating: 0x42, count: 32))

    init(buffer: [UInt8]) { self.buffer = buffer }

    func runAll(threads: Int) throws {
        chunkers()
        hashes()
        try codecs()
        try ciphers()
        try sealers(threads: threads)
    }

    // MARK: - helpers

    private func record(_ name: String, seconds: Double, bytes: Int? = nil, threads: Int = 1, ratio: Double? = nil, note: String? = nil) {
        let bytes = bytes ?? buffer.count
        let result = PrimitiveResult(name: name, inputBytes: bytes, seconds: seconds,
                                     megabytesPerSecond: Units.megabytesPerSecond(Int64(bytes), seconds),
                                     threads: threads, outputRatio: ratio, note: note)
        results.append(result)
        Log.info("  " + Units.pad(name, 46) + Units.fixed(result.megabytesPerSecond, 1) + " MB/s")
    }

    /// Calls `body` on each 64 KiB block of the buffer.
    private func blocks(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        try buffer.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                try body(UnsafeRawBufferPointer(rebasing: raw[offset ..< min(offset + block, raw.count)]))
                offset += block
            }
        }
    }

    /// Times `body` over every block.
    private func timeBlocks(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows -> Double {
        let start = Monotonic.now()
        try blocks(body)
        return Monotonic.now() - start
    }

    // MARK: - groups

    private func chunkers() {
        for parameters in [ChunkerParameters.defaultCDC, .defaultFixed] {
            var chunker = Chunker(parameters, gear: gear)
            let (lengths, seconds) = buffer.withUnsafeBytes { raw in Monotonic.time { chunker.split(raw) } }
            let name = parameters == .defaultCDC ? "chunker FastCDC \(parameters)" : "chunker \(parameters)"
            record(name, seconds: seconds, note: "\(lengths.count) chunks, mean \(buffer.count / max(lengths.count, 1)) B"
                   + (parameters == .defaultCDC ? "" : "; no scan, constant work per cut"))
        }
    }

    private func hashes() {
        var out = [UInt8](repeating: 0, count: 32)
        for algorithm in [DigestAlgorithm.sha256, .sm3] {
            let hasher = Hasher256(algorithm)
            let seconds = timeBlocks { block in
                hasher.update(block)
                out.withUnsafeMutableBytes { hasher.finalize(into: $0) }
            }
            record(algorithm == .sha256 ? "SHA-256 (64 KiB messages)" : "SM3 (64 KiB messages)", seconds: seconds)
        }
        for algorithm in [DigestAlgorithm.sha256, .sm3] {
            let mac = KeyedHash(algorithm, key: SecretKey(bytes: Array(repeating: 7, count: 32)))
            let seconds = timeBlocks { block in out.withUnsafeMutableBytes { mac.mac(block, into: $0) } }
            record(algorithm == .sha256 ? "HMAC-SHA-256 (64 KiB)" : "HMAC-SM3 (64 KiB)", seconds: seconds)
        }
        // The same GM/T hashes through libgcrypt (AVX/BMI2 SM3), beside OpenSSL's rows above.
        for keyed in [false, true] {
            guard let sm3 = try? GcryptSM3(key: keyed ? SecretKey(bytes: Array(repeating: 7, count: 32)) : nil) else { continue }
            let seconds = timeBlocks { _ = sm3.hash($0) }
            record(keyed ? "HMAC-SM3 libgcrypt (64 KiB)" : "SM3 libgcrypt (64 KiB messages)", seconds: seconds)
        }
    }

    private func codecs() throws {
        for level: Int32 in [1, 3] {
            let zstd = ZstdCodec(level: level)
            var compressed: [[UInt8]] = []
            let seconds = try timeBlocks { compressed.append(try zstd.compress($0)) }
            let ratio = Double(compressed.reduce(0) { $0 + $1.count }) / Double(buffer.count)
            record("zstd -\(level) compress (64 KiB blocks)", seconds: seconds, ratio: ratio)
            var index = 0
            let back = try timeBlocks { block in
                let plain = try zstd.decompress(compressed[index], maxSize: block.count)
                precondition(plain.count == block.count)
                index += 1
            }
            record("zstd -\(level) decompress", seconds: back, ratio: ratio)
        }
        var compressed: [[UInt8]] = []
        let seconds = try timeBlocks { compressed.append(try LZ4Codec.compress($0)) }
        let ratio = Double(compressed.reduce(0) { $0 + $1.count }) / Double(buffer.count)
        record("lz4 compress (64 KiB blocks)", seconds: seconds, ratio: ratio)
        var index = 0
        let back = try timeBlocks { block in
            let plain = try LZ4Codec.decompress(compressed[index], originalSize: block.count)
            precondition(plain.count == block.count)
            index += 1
        }
        record("lz4 decompress", seconds: back, ratio: ratio)
    }

    private func ciphers() throws {
        let associated = [UInt8](repeating: 1, count: 37)
        let suites: [(String, any AEADCipher)] = [
            ("AES-256-GCM", try AES256GCMCipher(key: SecretKey(bytes: Array(repeating: 3, count: 32)))),
            ("SM4-CTR+HMAC-SM3", try SM4CTRHMACSM3Cipher(encryptionKey: SecretKey(bytes: Array(repeating: 4, count: 16)),
                                                        macKey: SecretKey(bytes: Array(repeating: 5, count: 32)))),
        ]
        for (name, cipher) in suites {
            var sealed: [[UInt8]] = []
            let seconds = try timeBlocks { sealed.append(try cipher.seal($0, associatedData: associated)) }
            record("\(name) seal (64 KiB)", seconds: seconds)
            var index = 0
            let back = try timeBlocks { block in
                let plain = try cipher.open(sealed[index], associatedData: associated)
                precondition(plain.count == block.count)
                index += 1
            }
            record("\(name) open (64 KiB)", seconds: back)
        }
        // SM4 through libgcrypt (AES-NI/AVX2, 16 blocks at a time), beside OpenSSL's plain C.
        let key = SecretKey(bytes: Array(repeating: 4, count: 16))
        let counter = [UInt8](repeating: 0, count: 16)
        let ctr = try GcryptSM4(key: key, mode: .ctr)
        record("SM4-CTR libgcrypt (64 KiB)", seconds: try timeBlocks { _ = try ctr.ctr($0, counter: counter) })
        let gcm = try GcryptSM4(key: key, mode: .gcm)
        let nonce = [UInt8](repeating: 6, count: 12)
        var sealed: [[UInt8]] = []
        record("SM4-GCM libgcrypt seal (64 KiB)", seconds: try timeBlocks { sealed.append(try gcm.sealGCM($0, nonce: nonce, associatedData: associated)) })
        var index = 0
        record("SM4-GCM libgcrypt open (64 KiB)", seconds: try timeBlocks { _ in
            _ = try sealed[index].withUnsafeBytes { try gcm.openGCM($0, nonce: nonce, associatedData: associated) }
            index += 1
        })
    }

    /// The whole per-chunk path of a backup worker (keyed hash, compress, encrypt, verify), on the
    /// buffer's FastCDC chunks; then the default on every core, each thread with its own sealer.
    private func sealers(threads: Int) throws {
        var chunker = Chunker(.defaultCDC, gear: gear)
        let lengths = buffer.withUnsafeBytes { chunker.split($0) }
        var offsets = [0]
        for length in lengths { offsets.append(offsets.last! + length) }
        let configurations: [(CryptoSuite, Compression)] = [(.aes256gcm, .zstd(level: 3)), (.aes256gcm, .zstd(level: 1)),
                                                            (.aes256gcm, .lz4), (.sm4, .zstd(level: 3))]
        for (suite, compression) in configurations {
            let keys = try TenantKeys(master: SecretKey(bytes: Array(repeating: 9, count: 32)), suite: suite)
            let sealer = try BlobSealer(keys: keys, compression: compression)
            var stored = 0
            var sealedBlobs: [(ChunkID, [UInt8])] = []
            let start = Monotonic.now()
            try buffer.withUnsafeBytes { raw in
                for i in lengths.indices {
                    let chunk = UnsafeRawBufferPointer(rebasing: raw[offsets[i] ..< offsets[i + 1]])
                    let blob = try sealer.seal(chunk, id: sealer.chunkID(of: chunk))
                    stored += blob.bytes.count
                    if suite == .aes256gcm, compression == .default { sealedBlobs.append((blob.id, blob.bytes)) }
                }
            }
            let seconds = Monotonic.now() - start
            let label = "\(suite.rawValue)+\(compression)"
            record("BlobSealer.seal \(label), 1 thread", seconds: seconds, ratio: Double(stored) / Double(buffer.count),
                   note: "hash+compress+encrypt+verify per FastCDC chunk (\(lengths.count) chunks)")
            if !sealedBlobs.isEmpty {
                let begin = Monotonic.now()
                for (index, (id, bytes)) in sealedBlobs.enumerated() {
                    let plain = try bytes.withUnsafeBytes { try sealer.open($0, id: id, maximumLength: lengths[index]) }
                    precondition(plain.count == lengths[index])
                }
                record("BlobSealer.open \(label), 1 thread", seconds: Monotonic.now() - begin,
                       note: "decrypt+decompress+re-hash (restore/check path)")
            }
        }
        guard threads > 1 else { return }
        let keys = try TenantKeys(master: SecretKey(bytes: Array(repeating: 9, count: 32)), suite: .aes256gcm)
        let buffer = self.buffer
        let bounds = offsets
        let failures = Failures()
        let start = Monotonic.now()
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            do {
                let sealer = try BlobSealer(keys: keys, compression: .default)
                try buffer.withUnsafeBytes { raw in
                    for i in stride(from: thread, to: lengths.count, by: threads) {
                        let chunk = UnsafeRawBufferPointer(rebasing: raw[bounds[i] ..< bounds[i + 1]])
                        _ = try sealer.seal(chunk, id: sealer.chunkID(of: chunk))
                    }
                }
            } catch {
                failures.add("\(error)")
            }
        }
        let seconds = Monotonic.now() - start
        if let failure = failures.first { throw BenchError("parallel seal failed: \(failure)") }
        record("BlobSealer.seal aes256gcm+zstd:3, \(threads) threads", seconds: seconds, threads: threads,
               note: "one sealer per thread, chunks interleaved")
    }
}
