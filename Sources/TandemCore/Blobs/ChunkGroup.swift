import TandemCodecs

/// One chunk inside a group frame: its ID and where its plaintext lies in the frame's.
public struct GroupMember: Sendable, Equatable {
    public let id: ChunkID
    /// Offset of the chunk's plaintext in the group's plaintext.
    public let inner: Int
    public let rawLength: Int

    public init(id: ChunkID, inner: Int, rawLength: Int) {
        self.id = id
        self.inner = inner
        self.rawLength = rawLength
    }
}

/// A sealed group frame and the chunks it holds, ready for a pack.
public struct SealedGroup: Sendable {
    public let bytes: [UInt8]
    public let members: [GroupMember]
    /// Length of the group's plaintext (its members back to back).
    public let rawLength: Int
}

/// Collects new compressible chunks into one zstd frame, so each chunk is compressed with the
/// chunks before it as context. A 64 KiB chunk alone gives zstd little to work with: on the
/// standard image, chunks compressed one by one at level 1 take 880 MiB, in 4 MiB groups at
/// level 3 832 MiB (see the repository format article). Deduplication stays per chunk: each
/// member keeps its own ID and index row, pointing at the frame and at its offset inside.
///
/// Sealed like a blob under the associated data `"TNDG" | type u8`. Inside the AEAD:
/// `codec u8 (3) | raw length u32le | zstd frame | member table | member count u32le`, the
/// table holding each member's `id 32 | inner u32le | length u32le`. The table is what places a
/// member in the frame authentically: a reader of a slice the table names gets the plaintext
/// verify-before-store proved to be its ID's, without re-hashing it. Frames written before the
/// table existed (`codec 2`, no table) authenticate a member only by re-hashing its slice. Before
/// a group is handed out, every member's slice of the decoded frame is compared with the XXH3-64
/// checksum taken when its ID was. Not `Sendable`: one per worker task.
public final class ChunkGroupBuilder {
    /// A group is sealed once its plaintext reaches this length.
    public static let closingLength = 4 << 20
    /// The largest chunk that joins a group; larger ones are sealed on their own.
    public static let largestMember = 4 << 20
    /// The longest group plaintext a reader accepts (a group closes below 8 MiB).
    public static let maximumRawLength = 16 << 20
    /// The codec byte of a group frame with a member table (`2`: a frame without one).
    public static let codecWithMemberTable: UInt8 = 3
    /// Bytes of one member table entry.
    static let tableEntryLength = 40

    private let writer: ZstdFrameWriter
    public private(set) var members: [GroupMember] = []
    /// The checksum of each member's plaintext, taken with its ID.
    private var checksums: [Checksum64] = []
    /// This builder's group is sealed once its plaintext reaches this length.
    public let closing: Int

    /// A builder compressing at zstd `level` with a 1 MiB window, closing its group at
    /// `closingLength` bytes of plaintext (at most ``closingLength``: a repository with small
    /// packs gets small groups, so a pack still holds several).
    public init(level: Int, closingLength: Int = ChunkGroupBuilder.closingLength) {
        writer = ZstdFrameWriter(level: Int32(level), windowLog: 20, prefixLength: 5)
        closing = min(max(closingLength, 1), Self.closingLength)
    }

    public var isEmpty: Bool { members.isEmpty }
    /// True once the group should be sealed.
    public var isFull: Bool { writer.inputLength >= closing }
    /// Plaintext bytes in the group so far.
    public var rawLength: Int { writer.inputLength }

    /// Adds a chunk (at most ``largestMember`` bytes, to a group that is not full) whose ID and
    /// checksum were taken together.
    public func append(_ plaintext: UnsafeRawBufferPointer, fingerprint: ChunkFingerprint) throws {
        precondition(plaintext.count > 0 && plaintext.count <= Self.largestMember && !isFull, "ChunkGroupBuilder.append: bad member")
        members.append(GroupMember(id: fingerprint.id, inner: writer.inputLength, rawLength: plaintext.count))
        checksums.append(fingerprint.checksum)
        do { try writer.append(plaintext) } catch {
            members = []
            checksums = []
            throw error
        }
    }

    /// Adds a chunk whose plaintext was just verified against `id` (prune's regrouping of
    /// members re-hashed on the way out); its checksum is taken now.
    public func append(_ plaintext: UnsafeRawBufferPointer, id: ChunkID) throws {
        try append(plaintext, fingerprint: ChunkFingerprint(id: id, checksum: Checksum64(of: plaintext)))
    }

    /// Ends the frame, seals and verifies it; the builder is then empty.
    public func seal(with sealer: BlobSealer, type: BlobType = .data) throws -> SealedGroup {
        let members = self.members, checksums = self.checksums
        let rawLength = writer.inputLength
        self.members = []
        self.checksums = []
        var framed = try writer.finish()
        return try sealer.sealGroup(framed: &framed, rawLength: rawLength, members: members, checksums: checksums, type: type)
    }
}

extension BlobSealer {
    static func groupAssociatedData(type: BlobType) -> [UInt8] {
        Array("TNDG".utf8) + [type.rawValue]
    }

    /// Seals a zstd frame of `members` and verifies it before handing it out: opened again,
    /// decompressed and every member's slice compared with the checksum taken with its ID (a
    /// member at a time, never whole). `framed` is the frame behind 5 spare bytes, which get
    /// the header; it is emptied once sealed, so at most two copies of the frame are alive at
    /// once.
    func sealGroup(framed: inout [UInt8], rawLength: Int, members: [GroupMember], checksums: [Checksum64],
                   type: BlobType) throws -> SealedGroup {
        precondition(checksums.count == members.count, "sealGroup: a checksum per member")
        precondition(framed.count >= 5, "sealGroup: no room for the header")
        framed[0] = ChunkGroupBuilder.codecWithMemberTable
        for index in 0..<4 { framed[1 + index] = UInt8(truncatingIfNeeded: UInt32(rawLength) >> (8 * index)) }
        var table = ByteWriter(capacity: members.count * ChunkGroupBuilder.tableEntryLength + 4)
        for member in members {
            table.append(member.id.bytes)
            table.uint32(UInt32(member.inner))
            table.uint32(UInt32(member.rawLength))
        }
        table.uint32(UInt32(members.count))
        framed.append(contentsOf: table.bytes)
        if injectedFault == .framedPayload { framed[framed.count / 2 + 2] ^= 0x20 }
        var sealed = try cipher.seal(framed, associatedData: Self.groupAssociatedData(type: type))
        framed = []
        if injectedFault == .ciphertext { sealed[sealed.count / 2] ^= 0x20 }
        let first = members.first?.id ?? ChunkID(bytes: [UInt8](repeating: 0, count: 32))
        do {
            let reader = try sealed.withUnsafeBytes { try ChunkGroupReader($0, sealer: self, type: type, for: first) }
            guard reader.rawLength == rawLength else { throw BlobError.sealVerificationFailed(first) }
            for (member, checksum) in zip(members, checksums) {
                let decoded = try reader.unverifiedMember(member.id, inner: member.inner, length: member.rawLength)
                guard decoded.matches(checksum) else { throw BlobError.sealVerificationFailed(member.id) }
            }
            try reader.finish()
        } catch BlobError.sealVerificationFailed(let id) {
            throw BlobError.sealVerificationFailed(id)
        } catch {
            throw BlobError.sealVerificationFailed(first)
        }
        return SealedGroup(bytes: sealed, members: members, rawLength: rawLength)
    }
}

/// Reads chunks out of one sealed group frame, in increasing order of their place in it:
/// decrypts the frame, then decompresses only as far as the chunks asked for (zstd's 1 MiB
/// window and one chunk in memory, not the group's plaintext). Each chunk is re-hashed to its
/// ID before it is returned, with the caller's sealer: a reader may pass from one task to the
/// next (a restore's workers share readers), a sealer may not. Not `Sendable`: one task at a time.
public final class ChunkGroupReader {
    private let reader: ZstdFrameReader
    private let id: ChunkID
    /// Where the frame's member table places each member; nil for a frame without a table.
    private let placements: Set<Placement>?

    /// One member table entry.
    struct Placement: Hashable {
        let id: ChunkID
        let inner: Int
        let length: Int
    }
    /// Length of the group's plaintext.
    public let rawLength: Int

    /// Opens `sealed` (a group frame whose entries name `id` among its members).
    /// - Throws: ``BlobError`` when the frame fails authentication or is malformed.
    public init(_ sealed: UnsafeRawBufferPointer, sealer: BlobSealer, type: BlobType = .data, for id: ChunkID) throws {
        self.id = id
        let framed: [UInt8]
        do { framed = try sealer.cipher.open(sealed, associatedData: BlobSealer.groupAssociatedData(type: type)) } catch {
            throw BlobError.authenticationFailed(id)
        }
        guard framed.count >= 5, framed[0] == StoredCodec.zstd.rawValue || framed[0] == ChunkGroupBuilder.codecWithMemberTable else {
            throw BlobError.malformed(id, "group frame has an unknown codec or a short header")
        }
        rawLength = Int(framed[1]) | Int(framed[2]) << 8 | Int(framed[3]) << 16 | Int(framed[4]) << 24
        guard rawLength <= ChunkGroupBuilder.maximumRawLength else {
            throw BlobError.malformed(id, "group length \(rawLength) exceeds \(ChunkGroupBuilder.maximumRawLength)")
        }
        var frameEnd = framed.count
        if framed[0] == ChunkGroupBuilder.codecWithMemberTable {
            let (table, start) = try Self.memberTable(framed, for: id)
            placements = table
            frameEnd = start
        } else {
            placements = nil
        }
        do { reader = try ZstdFrameReader(framed, from: 5, to: frameEnd, exactSize: rawLength) } catch {
            throw BlobError.malformed(id, "group payload is not a zstd frame")
        }
    }

    /// The member table at the end of `framed` and where it starts.
    private static func memberTable(_ framed: [UInt8], for id: ChunkID) throws -> (Set<Placement>, Int) {
        let entry = ChunkGroupBuilder.tableEntryLength
        guard framed.count >= 9 else { throw BlobError.malformed(id, "group frame is too short for its member table") }
        var countReader = ByteReader(Array(framed[(framed.count - 4)...]), what: "member count")
        guard let count = try? Int(countReader.uint32()), count <= (framed.count - 9) / entry else {
            throw BlobError.malformed(id, "group frame's member table does not fit it")
        }
        let start = framed.count - 4 - count * entry
        var reader = ByteReader(Array(framed[start ..< (framed.count - 4)]), what: "member table")
        var table = Set<Placement>()
        do {
            for _ in 0..<count {
                let member = ChunkID(bytes: Array(try reader.take(32)))
                let inner = Int(try reader.uint32()), length = Int(try reader.uint32())
                table.insert(Placement(id: member, inner: inner, length: length))
            }
        } catch {
            throw BlobError.malformed(id, "group frame's member table is malformed")
        }
        return (table, start)
    }

    /// Plaintext bytes read so far: the next chunk must start here or later.
    public var position: Int { reader.produced }

    /// The chunk at `inner` (not before ``position``), re-hashed to `id` by `sealer`.
    public func member(_ id: ChunkID, inner: Int, length: Int, sealer: BlobSealer) throws -> [UInt8] {
        try unverifiedMember(id, inner: inner, length: length).verified(by: sealer)
    }

    /// The chunk at `inner` (not before ``position``), decompressed but not yet re-hashed: a
    /// restore gives the reader to the next worker first and hashes after, so a frame is held
    /// only while it decompresses.
    public func unverifiedMember(_ id: ChunkID, inner: Int, length: Int) throws -> UnverifiedMember {
        guard inner >= position, length > 0, inner <= rawLength - length else {
            throw BlobError.malformed(id, "lies outside its group (bytes \(inner)+\(length) of \(rawLength), read up to \(position))")
        }
        if let placements, !placements.contains(Placement(id: id, inner: inner, length: length)) {
            throw BlobError.malformed(id, "is not where its group frame's member table places it (bytes \(inner)+\(length))")
        }
        try skip(to: inner, for: id)
        return UnverifiedMember(id: id, plaintext: try next(length, for: id), placedByFrame: placements != nil)
    }

    /// The members the frame's member table places wholly between ``position`` and `inner`, in
    /// order, decompressed (not re-hashed) as the reader passes them on its way to `inner`, which
    /// it reaches next: what a reader skipping to a later member would decompress and drop, kept
    /// for a cache (an image's reads reach a frame's members out of order when a backup's
    /// workers filled it). At most `budget` bytes of them, the first ones; the rest are only
    /// skipped, as are all of a frame without a member table.
    public func unverifiedMembers(before inner: Int, budget: Int = .max) throws -> [UnverifiedMember] {
        guard let placements, inner > position else { return [] }
        var members: [UnverifiedMember] = [], kept = 0
        for placement in placements.filter({ $0.inner >= position && $0.length > 0 && $0.inner + $0.length <= inner })
            .sorted(by: { $0.inner < $1.inner }) where placement.inner >= position {
            guard kept + placement.length <= budget else { break }
            kept += placement.length
            try skip(to: placement.inner, for: placement.id)
            let plaintext = try next(placement.length, for: placement.id)
            guard plaintext.count == placement.length else { throw BlobError.malformed(placement.id, "group payload ends inside it") }
            members.append(UnverifiedMember(id: placement.id, plaintext: plaintext, placedByFrame: true))
        }
        return members
    }

    /// The next `length` plaintext bytes (fewer where the frame ends), decompressed for `id`.
    private func next(_ length: Int, for id: ChunkID) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            do { initialized = try reader.read(into: UnsafeMutableRawBufferPointer(buffer)) } catch {
                throw BlobError.malformed(id, "group payload does not decompress")
            }
        }
    }

    /// Reads the rest of the frame, which must end exactly at its stated length.
    public func finish() throws {
        try skip(to: rawLength, for: id)
    }

    private func skip(to target: Int, for id: ChunkID) throws {
        guard position < target else { return }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: min(128 << 10, target - position), alignment: 16)
        defer { scratch.deallocate() }
        do {
            while position < target {
                _ = try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[..<min(scratch.count, target - position)]))
            }
        } catch {
            throw BlobError.malformed(id, "group payload does not decompress")
        }
    }
}

/// A group member's plaintext as decompressed, before it was re-hashed to its ID. Its bytes are
/// only reachable through ``verified(by:)``.
public struct UnverifiedMember: Sendable {
    public let id: ChunkID
    private let plaintext: [UInt8]
    /// True when the frame's member table (inside its AEAD) places this member where it was read.
    public let placedByFrame: Bool
    /// The plaintext's length.
    public var count: Int { plaintext.count }

    init(id: ChunkID, plaintext: [UInt8], placedByFrame: Bool) {
        self.id = id
        self.plaintext = plaintext
        self.placedByFrame = placedByFrame
    }

    /// The plaintext for a restore: as it is when the frame's authenticated member table placed
    /// it (verify-before-store proved that slice is its ID's), re-hashed otherwise, or always
    /// with `rehash` (`restore --verify-ids`).
    public func authenticated(by sealer: BlobSealer, rehash: Bool) throws -> [UInt8] {
        if placedByFrame && !rehash { return plaintext }
        return try verified(by: sealer)
    }

    /// True when the plaintext has `checksum` (verify-before-store; not an authentication).
    func matches(_ checksum: Checksum64) -> Bool { Checksum64(of: plaintext) == checksum }

    /// The plaintext, once `sealer` re-hashed it to ``id``.
    /// - Throws: ``BlobError/hashMismatch(_:)`` when it does not.
    public func verified(by sealer: BlobSealer) throws -> [UInt8] {
        guard plaintext.withUnsafeBytes({ sealer.chunkID(of: $0) }) == id else { throw BlobError.hashMismatch(id) }
        return plaintext
    }
}
