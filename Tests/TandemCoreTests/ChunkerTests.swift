import Testing
import TandemCore

/// A plain one-byte-per-step FastCDC, the reference the optimised chunker must match exactly.
private func referenceCuts(_ data: [UInt8], minimum: Int, average: Int, maximum: Int, gear: GearTable) -> [Int] {
    let bits = average.trailingZeroBitCount
    func top(_ n: Int) -> UInt64 { ((1 << UInt64(n)) - 1) << UInt64(64 - n) }
    let strict = top(bits + 2), loose = top(bits - 2)
    var lengths: [Int] = []
    var start = 0
    while start < data.count {
        var h: UInt64 = 0
        var length = min(minimum, data.count - start)
        var cut = false
        while start + length < data.count {
            h = (h << 1) &+ gear.values[Int(data[start + length])]
            length += 1
            if length >= maximum { cut = true; break }
            if h & (length <= average ? strict : loose) == 0 { cut = true; break }
        }
        _ = cut
        lengths.append(length)
        start += length
    }
    return lengths
}

/// The chunk lengths a chunker's `findBoundary` gives when `data` arrives `step` bytes at a time.
private func piecewiseCuts(_ data: [UInt8], step: Int, _ findBoundary: (UnsafeRawBufferPointer) -> Int?) -> [Int] {
    var lengths: [Int] = []
    var pending = 0
    data.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            var piece = UnsafeRawBufferPointer(rebasing: raw[offset ..< min(offset + step, raw.count)])
            offset += piece.count
            while !piece.isEmpty, let cut = findBoundary(piece) {
                lengths.append(pending + cut)
                pending = 0
                piece = UnsafeRawBufferPointer(rebasing: piece[cut...])
            }
            pending += piece.count
        }
    }
    if pending > 0 { lengths.append(pending) }
    return lengths
}

@Suite struct ChunkerTests {
    let data: [UInt8] = {
        var generator = SeededBytes(seed: 42)
        return generator.bytes(2 << 20)
    }()

    @Test func contentDefinedMatchesReference() {
        var chunker = Chunker(.cdc(minimum: 2048, average: 8192, maximum: 32768), gear: Fixtures.gear)
        let fast = data.withUnsafeBytes { chunker.split($0) }
        let slow = referenceCuts(data, minimum: 2048, average: 8192, maximum: 32768, gear: Fixtures.gear)
        #expect(fast == slow)
        #expect(fast.reduce(0, +) == data.count)
    }

    @Test func goldenBoundaries() {
        var chunker = Chunker(.defaultCDC, gear: Fixtures.gear)
        let lengths = data.withUnsafeBytes { chunker.split($0) }
        // Golden values: a change here changes every tenant's dedup; bump the format instead.
        #expect(lengths.count == GoldenChunks.defaultCount)
        #expect(Array(lengths.prefix(8)) == GoldenChunks.defaultFirst8)
    }

    @Test(arguments: [1, 7, 4096, 65_536, 1_000_003])
    func feedSizeInvariance(step: Int) {
        var whole = Chunker(.defaultCDC, gear: Fixtures.gear)
        let expected = data.withUnsafeBytes { whole.split($0) }
        var pieces = Chunker(.defaultCDC, gear: Fixtures.gear)
        #expect(piecewiseCuts(data, step: step) { pieces.findBoundary(in: $0) } == expected)
    }

    @Test func sizesStayWithinBounds() {
        var chunker = Chunker(.defaultCDC, gear: Fixtures.gear)
        let lengths = data.withUnsafeBytes { chunker.split($0) }
        for length in lengths.dropLast() { #expect(length >= 16 << 10 && length <= 256 << 10) }
        // On random bytes the mean lands near the configured 64 KiB average.
        var generator = SeededBytes(seed: 9)
        let random = (0..<(2 << 20) / 8).flatMap { _ in withUnsafeBytes(of: generator.next()) { Array($0) } }
        let randomLengths = random.withUnsafeBytes { chunker.split($0) }
        let average = Double(random.count) / Double(randomLengths.count)
        #expect(average > 40_000 && average < 110_000, "mean chunk \(average)")
    }

    @Test func insertionOnlyDisturbsNearbyChunks() {
        var chunker = Chunker(.defaultCDC, gear: Fixtures.gear)
        let before = Set(data.withUnsafeBytes { chunker.split($0) }.reduce(into: [Int]()) { $0.append(($0.last ?? 0) + $1) })
        var shifted = data
        shifted.insert(contentsOf: Array("INSERTED".utf8), at: 1 << 19)
        let after = shifted.withUnsafeBytes { chunker.split($0) }.reduce(into: [Int]()) { $0.append(($0.last ?? 0) + $1) }
        let realigned = after.filter { $0 > (1 << 19) + 300_000 }.map { $0 - 8 }
        #expect(!realigned.isEmpty && realigned.allSatisfy(before.contains))
    }

    @Test func gearDependsOnSeed() {
        #expect(GearTable(seed: [1]) != GearTable(seed: [2]))
        #expect(GearTable(seed: [1]) == GearTable(seed: [1]))
        #expect(Fixtures.gear.values.count == 256)
    }

    @Test(arguments: [1, 999, 4 << 20])
    func fixedChunkerInvariance(step: Int) {
        var chunker = Chunker(.fixed(size: 100_000), gear: Fixtures.gear)
        let lengths = data.withUnsafeBytes { chunker.split($0) }
        #expect(lengths.dropLast().allSatisfy { $0 == 100_000 })
        #expect(lengths.last == data.count % 100_000)
        var pieces = Chunker(.fixed(size: 100_000), gear: Fixtures.gear)
        #expect(piecewiseCuts(data, step: step) { pieces.findBoundary(in: $0) } == lengths)
    }

    @Test func parametersParseAndValidate() throws {
        #expect(try ChunkerParameters(parsing: "cdc") == .defaultCDC)
        #expect(try ChunkerParameters(parsing: "cdc:64K/256K/1M") == .cdc(minimum: 64 << 10, average: 256 << 10, maximum: 1 << 20))
        #expect(try ChunkerParameters(parsing: "fixed:4M") == .fixed(size: 4 << 20))
        #expect(throws: ChunkerParameterError.averageNotPowerOfTwo(100_000)) { try ChunkerParameters(parsing: "cdc:16K/100000/1M") }
        #expect(throws: ChunkerParameterError.self) { try ChunkerParameters(parsing: "cdc:1M/64K/4M") }
        #expect(throws: ChunkerParameterError.self) { try ChunkerParameters(parsing: "rabin") }
        #expect(throws: ChunkerParameterError.self) { try ChunkerParameters(parsing: "fixed:1T") }
        #expect(ChunkerParameters.defaultCDC.description == "cdc:16K/64K/256K")
        #expect(ByteSize.parse("4MiB") == 4 << 20)
        #expect(ByteSize.parse("x") == nil)
    }
}

/// Zero runs: the chunker jumps over them once its hash settles, and must cut exactly where the
/// byte-at-a-time reference does, however the bytes arrive.
@Suite struct ZeroRunChunkingTests {
    /// Random bytes with zero runs of every interesting length: shorter than the 64 bytes the
    /// hash needs to settle, around a block, longer than the maximum chunk.
    static let data: [UInt8] = {
        var generator = SeededBytes(seed: 7)
        var bytes: [UInt8] = []
        for run in [1, 63, 64, 65, 200, 4095, 4096, 4097, 9000, 40_000, 70_000, 250_000, 3, 1_000_000] {
            bytes += generator.bytes(Int(generator.next() % 20_000) + 1)
            bytes += [UInt8](repeating: 0, count: run)
        }
        // Runs long enough to be jumped over that end inside a chunk, each at another offset
        // (the jump reads 32 bytes at a time), followed by a single non-zero byte or more.
        for index in 0..<64 {
            bytes += [UInt8](repeating: 0, count: 9000 + index * 37)
            bytes += [UInt8(index % 255 + 1)] + generator.bytes(Int(generator.next() % 1000))
        }
        return bytes + generator.bytes(5000)
    }()

    static func cuts(_ data: [UInt8], gear: GearTable, step: Int) -> [Int] {
        var chunker = ContentDefinedChunker(minimum: 2048, average: 8192, maximum: 32768, gear: gear)
        return piecewiseCuts(data, step: step) { chunker.findBoundary(in: $0) }
    }

    @Test(arguments: [1, 33, 4096, 100_000, 4 << 20])
    func zeroRunsCutAsTheReferenceDoes(step: Int) {
        let expected = referenceCuts(Self.data, minimum: 2048, average: 8192, maximum: 32768, gear: Fixtures.gear)
        #expect(Self.cuts(Self.data, gear: Fixtures.gear, step: step) == expected)
        // The long runs really were chunked at the maximum (the fast path had work to do).
        #expect(expected.filter { $0 == 32768 }.count >= 30)
    }

    /// A gear table whose settled zero hash passes the loose mask cuts inside zero runs: the
    /// chunker must cut there too, not jump over them.
    @Test func aGearThatCutsZeroRunsIsNotSkipped() throws {
        let loose: UInt64 = ((1 << 11) - 1) << 53   // average 8192: 13 bits − 2
        var found: GearTable?
        for seed in 0..<200_000 {
            var key = [UInt8](repeating: 0, count: 32)
            for index in 0..<4 { key[index] = UInt8(truncatingIfNeeded: seed >> (8 * index)) }
            let gear = GearTable(seed: key)
            if ContentDefinedChunker.zeroRunHash(gearOfZero: gear.values[0]) & loose == 0 {
                found = gear
                break
            }
        }
        let gear = try #require(found)
        let expected = referenceCuts(Self.data, minimum: 2048, average: 8192, maximum: 32768, gear: gear)
        #expect(Self.cuts(Self.data, gear: gear, step: 65_536) == expected)
        // With this table zeros alone are cut before the maximum.
        let zeros = [UInt8](repeating: 0, count: 100_000)
        let zeroCuts = referenceCuts(zeros, minimum: 2048, average: 8192, maximum: 32768, gear: gear)
        #expect(zeroCuts.dropLast().allSatisfy { $0 < 32768 })
        #expect(Self.cuts(zeros, gear: gear, step: 4096) == zeroCuts)
    }
}
