import Testing
import TandemCodecs
@testable import TandemCore

@Suite struct ChunkGroupTests {
    static func members(count: Int, seed: UInt64) -> [[UInt8]] {
        // Words drawn straight from the generator's numbers: `bytes(_:)` makes a run of up to
        // 20 KB for each call, however few bytes are asked for (134 s for this test in debug).
        var generator = SeededBytes(seed: seed)
        let words = (0..<200).map { _ in (0..<(3 + generator.next() % 7)).map { _ in UInt8(97 + generator.next() % 26) } + [32] }
        return (0..<count).map { index in
            var chunk: [UInt8] = []
            let length = 1 + (index * 7919) % 70_000
            while chunk.count < length { chunk += words[Int(generator.next() % UInt64(words.count))] }
            return Array(chunk.prefix(length))
        }
    }

    static func sealedGroup(_ chunks: [[UInt8]], suite: CryptoSuite = .aes256gcm) throws -> (BlobSealer, SealedGroup) {
        let sealer = try BlobSealer(keys: try TenantKeys(master: Fixtures.master, suite: suite), compression: .zstd(level: 3))
        let builder = ChunkGroupBuilder(level: 3)
        for chunk in chunks {
            try chunk.withUnsafeBytes { try builder.append($0, id: sealer.chunkID(of: $0)) }
        }
        return (sealer, try builder.seal(with: sealer))
    }

    @Test(arguments: CryptoSuite.allCases)
    func membersReadBackWithGaps(suite: CryptoSuite) throws {
        let chunks = Self.members(count: 40, seed: 11)
        let (sealer, group) = try Self.sealedGroup(chunks, suite: suite)
        #expect(group.members.count == 40)
        #expect(group.rawLength == chunks.reduce(0) { $0 + $1.count })
        #expect(group.bytes.count < group.rawLength / 2, "text compresses in a group")
        // Every third member, skipping the rest; then the frame must end cleanly.
        let reader = try group.bytes.withUnsafeBytes { try ChunkGroupReader($0, sealer: sealer, for: group.members[0].id) }
        for index in stride(from: 1, to: 40, by: 3) {
            let member = group.members[index]
            let plain = try reader.member(member.id, inner: member.inner, length: member.rawLength, sealer: sealer)
            #expect(plain == chunks[index], "member \(index)")
        }
        try reader.finish()
        // Going backwards is refused, not misread.
        #expect(throws: BlobError.self) { try reader.member(group.members[0].id, inner: 0, length: group.members[0].rawLength, sealer: sealer) }
    }

    /// The members a reader passes on its way to a later one come back whole, in order, each the
    /// plaintext of its ID, and the reader then reads the member asked for; a frame without a
    /// member table gives none back but still reads the member.
    @Test(arguments: [0, 1, 5, 39])
    func membersPassedOnTheWayComeBack(start: Int) throws {
        let chunks = Self.members(count: 40, seed: 12)
        let (sealer, group) = try Self.sealedGroup(chunks)
        let reader = try group.bytes.withUnsafeBytes { try ChunkGroupReader($0, sealer: sealer, for: group.members[0].id) }
        var next = 0
        for target in [start, min(39, start + 1), min(39, start + 9), 39] where target >= next {
            let member = group.members[target]
            let passed = try reader.unverifiedMembers(before: member.inner)
            #expect(passed.map(\.id) == group.members[next..<target].map(\.id), "passed on the way to \(target)")
            for (offset, one) in passed.enumerated() {
                #expect(try one.verified(by: sealer) == chunks[next + offset])
                #expect(one.placedByFrame)
            }
            #expect(try reader.member(member.id, inner: member.inner, length: member.rawLength, sealer: sealer) == chunks[target])
            next = target + 1
        }
        // Within a budget: the first members that fit, then the one asked for, read right.
        let budgeted = try group.bytes.withUnsafeBytes { try ChunkGroupReader($0, sealer: sealer, for: group.members[0].id) }
        let budget = chunks[0..<3].reduce(0) { $0 + $1.count } + chunks[3].count - 1
        let target = group.members[20]
        #expect(try budgeted.unverifiedMembers(before: target.inner, budget: budget).map(\.id) == group.members[0..<3].map(\.id))
        #expect(try budgeted.member(target.id, inner: target.inner, length: target.rawLength, sealer: sealer) == chunks[20])
        let old = try Self.legacy(group, sealer: sealer)
        let legacy = try old.withUnsafeBytes { try ChunkGroupReader($0, sealer: sealer, for: group.members[0].id) }
        let last = group.members[39]
        #expect(try legacy.unverifiedMembers(before: last.inner).isEmpty)
        #expect(try legacy.member(last.id, inner: last.inner, length: last.rawLength, sealer: sealer) == chunks[39])
    }

    /// The frame as Tandem wrote it before member tables: codec 2, no table.
    static func legacy(_ group: SealedGroup, sealer: BlobSealer) throws -> [UInt8] {
        var framed = try sealer.cipher.open(group.bytes, associatedData: BlobSealer.groupAssociatedData(type: .data))
        #expect(framed[0] == ChunkGroupBuilder.codecWithMemberTable)
        let count = Int(framed[framed.count - 4]) | Int(framed[framed.count - 3]) << 8
        #expect(count == group.members.count)
        framed.removeLast(4 + count * ChunkGroupBuilder.tableEntryLength)
        framed[0] = StoredCodec.zstd.rawValue
        return try sealer.cipher.seal(framed, associatedData: BlobSealer.groupAssociatedData(type: .data))
    }

    /// A place the frame's member table does not hold is refused by the table; in a frame
    /// without a table (written before tables existed), by the hash.
    @Test func aWrongPlaceIsRefusedByTheTableOrInOldFramesByTheHash() throws {
        let chunks = Self.members(count: 5, seed: 12)
        let (sealer, group) = try Self.sealedGroup(chunks)
        let second = group.members[1]
        let reader = try group.bytes.withUnsafeBytes { try ChunkGroupReader($0, sealer: sealer, for: group.members[0].id) }
        #expect(throws: BlobError.malformed(second.id, "is not where its group frame's member table places it (bytes \(second.inner + 1)+\(second.rawLength - 1))")) {
            try reader.member(second.id, inner: second.inner + 1, length: second.rawLength - 1, sealer: sealer)
        }
        let old = try Self.legacy(group, sealer: sealer)
        let oldReader = try old.withUnsafeBytes { try ChunkGroupReader($0, sealer: sealer, for: group.members[0].id) }
        #expect(throws: BlobError.hashMismatch(second.id)) {
            try oldReader.member(second.id, inner: second.inner + 1, length: second.rawLength - 1, sealer: sealer)
        }
    }

    /// A restore takes a member the table places as it is, and re-hashes one from a frame
    /// without a table (or every one, asked to).
    @Test func tablePlacedMembersNeedNoReHash() throws {
        let chunks = Self.members(count: 6, seed: 17)
        let (sealer, group) = try Self.sealedGroup(chunks)
        for (bytes, placed) in [(group.bytes, true), (try Self.legacy(group, sealer: sealer), false)] {
            let reader = try bytes.withUnsafeBytes { try ChunkGroupReader($0, sealer: sealer, for: group.members[0].id) }
            for (member, chunk) in zip(group.members, chunks) {
                let read = try reader.unverifiedMember(member.id, inner: member.inner, length: member.rawLength)
                #expect(read.placedByFrame == placed)
                #expect(try read.authenticated(by: sealer, rehash: false) == chunk)
                #expect(try read.authenticated(by: sealer, rehash: true) == chunk)
            }
            try reader.finish()
        }
    }

    @Test func everyTamperedByteIsDetected() throws {
        let chunks = Self.members(count: 6, seed: 13)
        let (sealer, group) = try Self.sealedGroup(chunks)
        for position in stride(from: 0, to: group.bytes.count, by: max(1, group.bytes.count / 300)) {
            var bytes = group.bytes
            bytes[position] ^= 0x20
            #expect(throws: BlobError.self) {
                let reader = try bytes.withUnsafeBytes { try ChunkGroupReader($0, sealer: sealer, for: group.members[0].id) }
                for member in group.members { _ = try reader.member(member.id, inner: member.inner, length: member.rawLength, sealer: sealer) }
            }
        }
    }

    @Test func packTrailerKeepsGroupPlaces() throws {
        let chunks = Self.members(count: 8, seed: 14)
        let (sealer, group) = try Self.sealedGroup(chunks)
        let cipher = try TenantKeys(master: Fixtures.master, suite: .aes256gcm).suite.makeCipher(
            key: try TenantKeys(master: Fixtures.master, suite: .aes256gcm).dataKey)
        var builder = PackBuilder(targetSize: 1 << 20)
        let single = Array("a chunk of its own".utf8)
        let singleID = single.withUnsafeBytes { sealer.chunkID(of: $0) }
        builder.append(try single.withUnsafeBytes { try sealer.seal($0, id: singleID) })
        builder.append(group)
        let pack = try builder.finish(cipher: cipher)
        let trailerLength = try PackFormat.trailerLength(footer: Array(pack.bytes.suffix(PackFormat.footerLength)), packSize: pack.bytes.count)
        let trailer = Array(pack.bytes[(pack.bytes.count - PackFormat.footerLength - trailerLength)...].prefix(trailerLength))
        let entries = try PackFormat.entries(sealedTrailer: trailer, packSize: pack.bytes.count, cipher: cipher)
        #expect(entries == pack.entries)
        #expect(entries[0].inner == nil)
        #expect(entries.dropFirst().map(\.inner) == group.members.map(\.inner))
        let frames = PackEntry.byFrame(entries)
        #expect(frames.count == 2 && frames[1].count == 8)
    }

    /// Hostile plaintext inside a valid seal (what a key holder or a bug could write) and
    /// hostile places from a trailer: the reader throws or returns chunks that hash right,
    /// never traps, never reads past the frame's stated length.
    @Test func hostileFramesInsideAValidSealNeverTrap() throws {
        let chunks = Self.members(count: 12, seed: 15)
        let (sealer, group) = try Self.sealedGroup(chunks)
        let framed = try sealer.cipher.open(group.bytes, associatedData: BlobSealer.groupAssociatedData(type: .data))
        var generator = SeededBytes(seed: 16)
        var accepted = 0
        for round in 0..<600 {
            var bytes = framed
            switch round % 4 {
            case 0: bytes = generator.mutated(framed, .overwrite(count: 4, alphabet: []))
            case 1: bytes = generator.mutated(framed, .truncate)
            case 2:
                // A stated length that lies, up to past the limit.
                let length = UInt32(truncatingIfNeeded: generator.next() % UInt64(ChunkGroupBuilder.maximumRawLength * 2))
                for index in 0..<4 { bytes[1 + index] = UInt8(truncatingIfNeeded: length >> (8 * index)) }
            default: bytes = generator.mutated(framed, .append)
            }
            let sealed = try sealer.cipher.seal(bytes, associatedData: BlobSealer.groupAssociatedData(type: .data))
            do {
                let reader = try sealed.withUnsafeBytes { try ChunkGroupReader($0, sealer: sealer, for: group.members[0].id) }
                for member in group.members {
                    // Some places are shifted as a hostile trailer would shift them.
                    let shift = generator.next() % 8 == 0 ? Int(generator.next() % 3) - 1 : 0
                    let plain = try reader.member(member.id, inner: member.inner + shift, length: member.rawLength, sealer: sealer)
                    #expect(plain.count == member.rawLength)
                }
                try reader.finish()
                accepted += 1
            } catch is BlobError {
                continue
            }
        }
        #expect(accepted < 600, "some hostile frames must be refused")
    }
}
