import Testing
@testable import TandemCodecs

/// Property tests: hostile input must produce a thrown error or a valid
/// result, never a trap. 2000 cases per decoder.
@Suite struct FuzzTests {
    static let iterations = 2000

    /// Random strings, biased so some look like real frames (valid magic or
    /// a mutated valid encoding).
    static func hostileInputs(seed: UInt64, valid: [UInt8]) -> [[UInt8]] {
        var rng = SeededRNG(seed: seed)
        var inputs: [[UInt8]] = []
        for i in 0..<iterations {
            switch i % 4 {
            case 0, 1:
                inputs.append(rng.bytes(Int(rng.next() % 400)))
            case 2:
                var m = valid
                for _ in 0..<(1 + Int(rng.next() % 4)) where !m.isEmpty {
                    m[Int(rng.next() % UInt64(m.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                }
                if m == valid { m[0] ^= 1 }
                inputs.append(m)
            default:
                let cut = Int(rng.next() % UInt64(valid.count + 1))
                var m = Array(valid.prefix(cut)) + rng.bytes(Int(rng.next() % 16))
                if m == valid { m.append(0) }
                inputs.append(m)
            }
        }
        return inputs
    }

    @Test func zstdDecoderNeverTraps() throws {
        let codec = ZstdCodec(level: 3)
        let original = sampleText(4000)
        let valid = try codec.compress(original)
        var ok = 0
        for input in Self.hostileInputs(seed: 100, valid: valid) {
            if let out = try? codec.decompress(input, maxSize: 1 << 20) {
                #expect(out.count <= 1 << 20)
                ok += 1
            }
            _ = try? ZstdCodec.declaredContentSize(input.withUnsafeBytes { $0 })
        }
        // The codec still works after all the garbage.
        #expect(try codec.decompress(valid, maxSize: 4000) == original)
        #expect(ok < Self.iterations)
    }

    @Test func zstdStreamingDecoderNeverTrapsAndAgreesWithOneShot() throws {
        let codec = ZstdCodec(level: 3)
        let original = sampleText(40_000)
        let valid = try codec.compress(original)
        for input in Self.hostileInputs(seed: 101, valid: valid) {
            var streamed: [UInt8] = []
            let ok = (try? input.withUnsafeBytes { frame in
                try codec.decompress(frame, maxSize: 1 << 20, pieceSize: 777) { streamed += $0 }
            }) != nil
            let whole = try? codec.decompress(input, maxSize: 1 << 20)
            // Whatever the streaming decoder accepts, the one-shot decoder accepts as the same bytes.
            if ok { #expect(whole == streamed) }
        }
        var pieces: [Int] = []
        var streamed: [UInt8] = []
        try valid.withUnsafeBytes { frame in
            try codec.decompress(frame, maxSize: 40_000, pieceSize: 4096) { pieces.append($0.count); streamed += $0 }
        }
        #expect(streamed == original)
        #expect(pieces.allSatisfy { $0 <= 4096 })
        #expect(throws: CodecError.self) {
            try valid.withUnsafeBytes { try codec.decompress($0, maxSize: 39_999) { _ in } }
        }
        #expect(throws: CodecError.self) {
            try (valid + [0]).withUnsafeBytes { try codec.decompress($0, maxSize: 40_000) { _ in } }
        }
        #expect(throws: CodecError.self) {
            try Array(valid.dropLast(3)).withUnsafeBytes { try codec.decompress($0, maxSize: 40_000) { _ in } }
        }
        // An empty frame yields nothing and succeeds.
        let empty = try codec.compress([UInt8]())
        try empty.withUnsafeBytes { try codec.decompress($0, maxSize: 0) { _ in Issue.record("no output expected") } }
    }

    /// The pull-based reader of frames that declare no size: hostile frames and wrong sizes
    /// throw or yield exactly the stated size, never more, never a trap; a streaming frame
    /// reads back in any piece sizes.
    @Test func zstdFrameReaderNeverTrapsAndStopsAtItsSize() throws {
        let original = sampleText(40_000)
        let writer = ZstdFrameWriter(level: 3)
        for start in stride(from: 0, to: original.count, by: 9000) {
            try original[start ..< min(original.count, start + 9000)].withUnsafeBytes { try writer.append($0) }
        }
        let valid = try writer.finish()
        #expect(throws: CodecError.self, "a streaming frame declares no size") {
            try valid.withUnsafeBytes { try ZstdCodec.declaredContentSize($0) }
        }
        var rng = SeededRNG(seed: 103)
        var accepted = 0
        for input in Self.hostileInputs(seed: 104, valid: valid) where !input.isEmpty {
            let size = rng.next() % 2 == 0 ? original.count : Int(rng.next() % 60_000)
            guard let reader = try? ZstdFrameReader(input, from: 0, exactSize: size) else { continue }
            var out = [UInt8](repeating: 0, count: size)
            var filled = 0
            do {
                while filled < size {
                    let piece = 1 + Int(rng.next() % 5000)
                    let n = try out.withUnsafeMutableBytes {
                        try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled ..< min(size, filled + piece)]))
                    }
                    #expect(n > 0 && n <= piece)
                    filled += n
                }
                accepted += 1
                #expect(reader.produced == size)
            } catch is CodecError {
                #expect(filled <= size)
            }
        }
        #expect(accepted < Self.iterations / 2)
        // The valid frame, in odd pieces; a wrong size or anything after the frame is refused.
        let reader = try ZstdFrameReader(valid, from: 0, exactSize: original.count)
        var back = [UInt8](repeating: 0, count: original.count)
        var filled = 0
        while filled < back.count {
            filled += try back.withUnsafeMutableBytes {
                try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled ..< min($0.count, filled + 777)]))
            }
        }
        #expect(back == original)
        for (input, size) in [(valid, original.count - 1), (valid, original.count + 1), (valid + [0], original.count)] {
            #expect(throws: CodecError.self) {
                let reader = try ZstdFrameReader(input, from: 0, exactSize: size)
                var sink = [UInt8](repeating: 0, count: size)
                _ = try sink.withUnsafeMutableBytes { try reader.read(into: $0) }
            }
        }
    }

    @Test func lz4DecoderNeverTraps() throws {
        let original = sampleText(4000)
        let valid = try LZ4Codec.compress(original)
        var rng = SeededRNG(seed: 101)
        for input in Self.hostileInputs(seed: 102, valid: valid) {
            let size = rng.next() % 2 == 0 ? original.count : Int(rng.next() % 70_000)
            if let out = try? LZ4Codec.decompress(input, originalSize: size) {
                #expect(out.count == size)
            }
        }
    }

    @Test func aesGCMOpenNeverTrapsAndNeverAccepts() throws {
        let cipher = try AES256GCMCipher(key: SecretKey.random(count: 32))
        let valid = try cipher.seal(sampleText(300), associatedData: [1])
        for input in Self.hostileInputs(seed: 103, valid: valid) {
            #expect(throws: CodecError.self) { try cipher.open(input, associatedData: [1]) }
        }
        #expect(try cipher.open(valid, associatedData: [1]) == sampleText(300))
    }

    @Test func sm4OpenNeverTrapsAndNeverAccepts() throws {
        let cipher = try SM4CTRHMACSM3Cipher(encryptionKey: SecretKey.random(count: 16), macKey: SecretKey.random(count: 32))
        let valid = try cipher.seal(sampleText(300), associatedData: [1])
        let before = cipher.decryptionCount
        for input in Self.hostileInputs(seed: 104, valid: valid) {
            #expect(throws: CodecError.self) { try cipher.open(input, associatedData: [1]) }
        }
        #expect(cipher.decryptionCount == before)
        #expect(try cipher.open(valid, associatedData: [1]) == sampleText(300))
    }
}
