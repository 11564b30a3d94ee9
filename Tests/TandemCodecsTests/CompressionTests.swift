import Testing
@testable import TandemCodecs

@Suite struct ZstdTests {
    static func corpora() -> [(String, [UInt8])] {
        var rng = SeededRNG(seed: 11)
        return [
            ("empty", []),
            ("one", [42]),
            ("random", rng.bytes(200_000)),
            ("zeros", [UInt8](repeating: 0, count: 1 << 20)),
            ("text", sampleText(300_000)),
        ]
    }

    @Test(arguments: [Int32(-5), 1, 3, 19])
    func roundTrips(level: Int32) throws {
        let codec = ZstdCodec(level: level)
        for (name, data) in Self.corpora() {
            let frame = try codec.compress(data)
            #expect(try ZstdCodec.declaredContentSize(frame.withUnsafeBytes { $0 }) == UInt64(data.count))
            #expect(try codec.decompress(frame, maxSize: data.count) == data, "corpus \(name)")
            if name == "zeros" || name == "text" { #expect(frame.count < data.count / 2) }
        }
    }

    @Test func piecesCompressIntoOneFrameOfThePledgedSize() throws {
        let codec = ZstdCodec(level: 3)
        let text = sampleText(300_000)
        for step in [1000, 65536, 300_000] {
            let frame = try codec.compress(pledgedSize: text.count) { feed in
                var at = 0
                while at < text.count {
                    try text[at..<min(at + step, text.count)].withUnsafeBytes { try feed($0) }
                    at += step
                }
            }
            #expect(try ZstdCodec.declaredContentSize(frame.withUnsafeBytes { $0 }) == UInt64(text.count))
            #expect(try codec.decompress(frame, maxSize: text.count) == text)
        }
        // Feeding fewer or more bytes than pledged fails; the codec works afterwards.
        #expect(throws: CodecError.self) {
            _ = try codec.compress(pledgedSize: 10) { feed in try text[0..<9].withUnsafeBytes { try feed($0) } }
        }
        #expect(throws: CodecError.self) {
            _ = try codec.compress(pledgedSize: 10) { feed in try text[0..<11].withUnsafeBytes { try feed($0) } }
        }
        let empty = try codec.compress(pledgedSize: 0) { _ in }
        #expect(try codec.decompress(empty, maxSize: 0) == [])
        #expect(try codec.decompress(codec.compress(text), maxSize: text.count) == text)
    }

    @Test func maxSizeIsEnforcedBeforeDecoding() throws {
        let codec = ZstdCodec(level: 1)
        let data = sampleText(1000)
        let frame = try codec.compress(data)
        #expect(throws: CodecError.sizeLimitExceeded(limit: 999)) { try codec.decompress(frame, maxSize: 999) }
        #expect(try codec.decompress(frame, maxSize: 1000) == data)
    }

    /// Magic, FHD 0xE0 (single segment, 8-byte content size), size = 2^40,
    /// then an RLE last block. Must be refused without allocating 1 TiB.
    @Test func frameDeclaringOneTebibyteIsRejected() throws {
        var frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0xE0]
        withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { frame += $0 }
        frame += [0x03, 0x00, 0x02, 0x41]  // last RLE block header + byte
        let codec = ZstdCodec()
        #expect(try ZstdCodec.declaredContentSize(frame.withUnsafeBytes { $0 }) == 1 << 40)
        #expect(throws: CodecError.sizeLimitExceeded(limit: 16 << 20)) { try codec.decompress(frame, maxSize: 16 << 20) }
        // Even with no caller limit, the expansion bound refuses it.
        #expect(throws: CodecError.self) { try codec.decompress(frame, maxSize: Int.max) }
    }

    /// A valid frame without a content size (streaming form): raw last block "abc".
    @Test func frameWithUnknownContentSizeIsRejected() {
        let frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x00, 0x19, 0x00, 0x00, 0x61, 0x62, 0x63]
        #expect(throws: CodecError.decompressionFailed("frame does not declare its content size")) {
            try ZstdCodec().decompress(frame, maxSize: 1 << 20)
        }
    }

    @Test func truncatedFramesThrow() throws {
        let codec = ZstdCodec(level: 3)
        let data = sampleText(50_000)
        let frame = try codec.compress(data)
        for len in Array(0..<64) + stride(from: 64, to: frame.count, by: 97).map({ $0 }) + [frame.count - 1] {
            #expect(throws: CodecError.self) { try codec.decompress(Array(frame.prefix(len)), maxSize: 1 << 20) }
        }
        #expect(try codec.decompress(frame, maxSize: 1 << 20) == data)
    }

    @Test func concatenatedFramesAndTrailingGarbageThrow() throws {
        let codec = ZstdCodec(level: 1)
        let a = try codec.compress(sampleText(1000, seed: 1))
        let b = try codec.compress(sampleText(1000, seed: 2))
        #expect(throws: CodecError.self) { try codec.decompress(a + b, maxSize: 1 << 20) }
        #expect(throws: CodecError.self) { try codec.decompress(a + [1, 2, 3], maxSize: 1 << 20) }
    }

    @Test func randomBytesThrow() {
        let codec = ZstdCodec()
        var rng = SeededRNG(seed: 5)
        for _ in 0..<200 {
            #expect(throws: CodecError.self) { try codec.decompress(rng.bytes(Int(rng.next() % 500)), maxSize: 1 << 20) }
        }
    }
}

@Suite struct LZ4Tests {
    @Test func roundTrips() throws {
        var rng = SeededRNG(seed: 12)
        let corpora: [[UInt8]] = [
            [], [7], rng.bytes(100_000), [UInt8](repeating: 0, count: 1 << 20), sampleText(300_000),
        ]
        for data in corpora {
            let block = try LZ4Codec.compress(data)
            #expect(try LZ4Codec.decompress(block, originalSize: data.count) == data)
        }
    }

    /// Highest-ratio input: the expansion sanity bound must not reject it.
    @Test func sixteenMiBOfZerosRoundTrips() throws {
        let data = [UInt8](repeating: 0, count: 16 << 20)
        let block = try LZ4Codec.compress(data)
        #expect(block.count * LZ4Codec.maxExpansionRatio > data.count)
        #expect(try LZ4Codec.decompress(block, originalSize: data.count) == data)
    }

    @Test func wrongOriginalSizeThrows() throws {
        let data = sampleText(10_000)
        let block = try LZ4Codec.compress(data)
        #expect(throws: CodecError.self) { try LZ4Codec.decompress(block, originalSize: data.count - 1) }
        #expect(throws: CodecError.self) { try LZ4Codec.decompress(block, originalSize: data.count + 1) }
        #expect(throws: CodecError.invalidArgument("negative LZ4 original size -1")) {
            try LZ4Codec.decompress(block, originalSize: -1)
        }
        #expect(throws: CodecError.sizeLimitExceeded(limit: LZ4Codec.maxInputSize)) {
            try LZ4Codec.decompress(block, originalSize: 1 << 40)
        }
        // Impossible ratio is refused before allocating.
        #expect(throws: CodecError.self) { try LZ4Codec.decompress([0x1F, 0, 0], originalSize: 1 << 30) }
    }

    @Test func truncatedAndRandomBlocksThrow() throws {
        let data = sampleText(20_000)
        let block = try LZ4Codec.compress(data)
        for len in 0..<block.count where len % 7 == 0 || len < 32 {
            #expect(throws: CodecError.self) { try LZ4Codec.decompress(Array(block.prefix(len)), originalSize: data.count) }
        }
        var rng = SeededRNG(seed: 6)
        for _ in 0..<200 {
            #expect(throws: CodecError.self) {
                try LZ4Codec.decompress(rng.bytes(1 + Int(rng.next() % 300)), originalSize: 5000)
            }
        }
    }
}
