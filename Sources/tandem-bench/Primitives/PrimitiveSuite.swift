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
        try passphraseKDFs()
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
        Log.info("  " + Units.pad(name, 46) + (bytes == 0 ? Units.fixed(seconds, 3) + " s" : Units.fixed(result.megabytesPerSecond, 1) + " MB/s"))
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

    /// SHA-256 on OpenSSL; SM3 and HMAC-SM3 on both libraries, the one Tandem uses first.
    private func hashes() {
        var out = [UInt8](repeating: 0, count: 32)
        let rows: [(DigestAlgorithm, CryptoLibrary)] = [(.sha256, .openssl), (.sm3, .libgcrypt), (.sm3, .openssl)]
        for (algorithm, library) in rows {
            let hasher = Hasher256(algorithm, library: library)
            let seconds = timeBlocks { block in
                hasher.update(block)
                out.withUnsafeMutableBytes { hasher.finalize(into: $0) }
            }
            record("\(algorithm == .sha256 ? "SHA-256" : "SM3") \(library.rawValue) (64 KiB messages)", seconds: seconds)
        }
        for (algorithm, library) in rows {
            let mac = KeyedHash(algorithm, key: SecretKey(bytes: Array(repeating: 7, count: 32)), library: library)
            let seconds = timeBlocks { block in out.withUnsafeMutableBytes { mac.mac(block, into: $0) } }
            record("\(algorithm == .sha256 ? "HMAC-SHA-256" : "HMAC-SM3") \(library.rawValue) (64 KiB)", seconds: seconds)
        }
    }

    /// One unlock of a passphrase slot of each kind, at the cost new slots get.
    private func passphraseKDFs() throws {
        let salt = [UInt8](repeating: 8, count: 32), passphrase = Array("correct horse battery staple".utf8)
        var start = Monotonic.now()
        _ = try Scrypt.derive(passphrase: passphrase, salt: salt, n: KeyWrapping.scryptN, r: KeyWrapping.scryptR, p: KeyWrapping.scryptP, count: 32)
        var seconds = Monotonic.now() - start
        record("scrypt N=2^15 r=8 p=1 (one unlock)", seconds: seconds, bytes: 0, note: "\(Units.fixed(seconds, 3)) s per unlock; aes256gcm and sm4ctr slots")
        for library in [CryptoLibrary.libgcrypt, .openssl] {
            start = Monotonic.now()
            _ = try PBKDF2.derive(algorithm: .sm3, passphrase: passphrase, salt: salt, iterations: KeyWrapping.pbkdf2Iterations, count: 16, library: library)
            seconds = Monotonic.now() - start
            record("PBKDF2-HMAC-SM3 \(KeyWrapping.pbkdf2Iterations) iterations \(library.rawValue)", seconds: seconds, bytes: 0,
                   note: "\(Units.fixed(seconds, 3)) s per unlock; sm4gcm slots")
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

    /// Every suite's AEAD as Tandem runs it, and the SM4-CTR + HMAC-SM3 construction on
    /// OpenSSL's plain C beside libgcrypt's.
    private func ciphers() throws {
        let associated = [UInt8](repeating: 1, count: 37)
        let sm4Key = SecretKey(bytes: Array(repeating: 4, count: 16)), macKey = SecretKey(bytes: Array(repeating: 5, count: 32))
        let suites: [(String, any AEADCipher)] = [
            ("AES-256-GCM openssl", try AES256GCMCipher(key: SecretKey(bytes: Array(repeating: 3, count: 32)))),
            ("SM4-GCM libgcrypt", try SM4GCMCipher(key: sm4Key)),
            ("SM4-CTR+HMAC-SM3 libgcrypt", try SM4CTRHMACSM3Cipher(encryptionKey: sm4Key, macKey: macKey)),
            ("SM4-CTR+HMAC-SM3 openssl", try SM4CTRHMACSM3Cipher(encryptionKey: sm4Key, macKey: macKey, library: .openssl)),
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
        let counter = [UInt8](repeating: 0, count: 16)
        let ctr = try GcryptSM4(key: sm4Key, mode: .ctr)
        record("SM4-CTR libgcrypt, no MAC (64 KiB)", seconds: try timeBlocks { _ = try ctr.ctr($0, counter: counter) })
    }

    /// The whole per-chunk path of a backup worker (keyed hash, compress, encrypt, verify), on the
    /// buffer's FastCDC chunks; then the default on every core, each thread with its own sealer.
    private func sealers(threads: Int) throws {
        var chunker = Chunker(.defaultCDC, gear: gear)
        let lengths = buffer.withUnsafeBytes { chunker.split($0) }
        var offsets = [0]
        for length in lengths { offsets.append(offsets.last! + length) }
        let configurations: [(CryptoSuite, Compression)] = [(.aes256gcm, .zstd(level: 3)), (.aes256gcm, .zstd(level: 1)),
                                                            (.aes256gcm, .lz4), (.sm4gcm, .zstd(level: 3)),
                                                            (.sm4ctr, .zstd(level: 3))]
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
                    if compression == .default { sealedBlobs.append((blob.id, blob.bytes)) }
                }
            }
            let seconds = Monotonic.now() - start
            let label = "\(suite.name)+\(compression)"
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
