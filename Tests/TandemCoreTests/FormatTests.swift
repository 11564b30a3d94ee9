import Foundation
import Testing
import TandemCodecs
@testable import TandemCore

@Suite struct PackFormatTests {
    func makePack() throws -> (FinishedPack, TenantKeys) {
        let keys = try TenantKeys(master: Fixtures.master, suite: .aes256gcm)
        let sealer = try BlobSealer(keys: keys, compression: .zstd(level: 3))
        var builder = PackBuilder(targetSize: 1 << 20)
        var generator = SeededBytes(seed: 5)
        for size in [1000, 50_000, 3] {
            let plain = generator.bytes(size)
            let id = plain.withUnsafeBytes { sealer.chunkID(of: $0) }
            builder.append(try plain.withUnsafeBytes { try sealer.seal($0, id: id) })
        }
        return (try builder.finish(cipher: try keys.suite.makeCipher(key: keys.dataKey)), keys)
    }

    @Test func headerIsGolden() {
        #expect(PackFormat.header() == Array("TNDMPACK".utf8) + [3, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func trailerRoundTripsAndIsNamedByHash() throws {
        let (pack, keys) = try makePack()
        #expect(pack.name == Hex.encode(Hasher256.hash(.sha256, pack.bytes)))
        let footer = Array(pack.bytes.suffix(16))
        #expect(Array(footer.suffix(8)) == Array("TNDMPEND".utf8))
        let length = try PackFormat.trailerLength(footer: footer, packSize: pack.bytes.count)
        let trailer = Array(pack.bytes[(pack.bytes.count - 16 - length) ..< (pack.bytes.count - 16)])
        let entries = try PackFormat.entries(sealedTrailer: trailer, packSize: pack.bytes.count,
                                             cipher: try keys.suite.makeCipher(key: keys.dataKey))
        #expect(entries == pack.entries)
        #expect(entries.map(\.rawLength) == [1000, 50_000, 3])
    }

    /// A version-1 pack (written before group frames) is still read: its trailer has no
    /// `inner` field and its associated data names version 1; every blob is one of its own.
    @Test func aVersion1PackIsStillRead() throws {
        let (pack, keys) = try makePack()
        let cipher = try keys.suite.makeCipher(key: keys.dataKey)
        var plain = ByteWriter()
        plain.uint32(UInt32(pack.entries.count))
        for entry in pack.entries {
            plain.uint8(entry.type.rawValue)
            plain.uint8(entry.codec.rawValue)
            plain.append(entry.id.bytes)
            plain.uint64(UInt64(entry.offset))
            plain.uint32(UInt32(entry.length))
            plain.uint32(UInt32(entry.rawLength))
        }
        let sealed = try cipher.seal(plain.bytes, associatedData: Array("TNDMPTRL".utf8) + [1, 0])
        var header = PackFormat.header()
        header[8] = 1
        try PackFormat.checkHeader(header)
        let blobEnd = pack.entries.map { $0.offset + $0.length }.max()!
        let packSize = blobEnd + sealed.count + PackFormat.footerLength
        let entries = try PackFormat.entries(sealedTrailer: sealed, packSize: packSize, cipher: cipher)
        #expect(entries == pack.entries)
        #expect(entries.allSatisfy { $0.inner == nil })
        // The version is bound to the layout: a v1 trailer relabelled as v2 does not open.
        let relabelled = try cipher.seal(plain.bytes, associatedData: Array("TNDMPTRL".utf8) + [2, 0])
        #expect(throws: FormatError.self) { try PackFormat.entries(sealedTrailer: relabelled, packSize: packSize, cipher: cipher) }
    }

    @Test func tamperedTrailerIsRefused() throws {
        let (pack, keys) = try makePack()
        let length = try PackFormat.trailerLength(footer: Array(pack.bytes.suffix(16)), packSize: pack.bytes.count)
        var trailer = Array(pack.bytes[(pack.bytes.count - 16 - length) ..< (pack.bytes.count - 16)])
        trailer[trailer.count / 2] ^= 0x80
        #expect(throws: FormatError.authenticationFailed("pack trailer")) {
            try PackFormat.entries(sealedTrailer: trailer, packSize: pack.bytes.count, cipher: try keys.suite.makeCipher(key: keys.dataKey))
        }
    }

    @Test func newerVersionIsNamed() {
        var header = PackFormat.header()
        header[8] = 9
        #expect(throws: FormatError.unsupportedVersion("pack", found: 9, supported: 1...3)) { try PackFormat.checkHeader(header) }
    }

    @Test func decodersNeverTrapOnHostileBytes() throws {
        let keys = try TenantKeys(master: Fixtures.master, suite: .aes256gcm)
        let cipher = try keys.suite.makeCipher(key: keys.dataKey)
        let codec = try ManifestCodec(keys: keys, tenant: "t")
        var generator = SeededBytes(seed: 11)
        for round in 0..<3000 {
            let length = Int(generator.next() % 300)
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if round % 3 == 0, bytes.count >= 16 { bytes.replaceSubrange(bytes.count - 8 ..< bytes.count, with: Array("TNDMPEND".utf8)) }
            if round % 3 == 1, bytes.count >= 10 { bytes.replaceSubrange(0..<8, with: Array("TNDMSNAP".utf8)); bytes[8] = 1; bytes[9] = 0 }
            _ = try? PackFormat.checkHeader(bytes)
            _ = try? PackFormat.trailerLength(footer: Array(bytes.suffix(16)), packSize: Int(generator.next() % 1000))
            _ = try? PackFormat.entries(sealedTrailer: bytes, packSize: 1 << 20, cipher: cipher)
            #expect(throws: FormatError.self) { try codec.open(bytes) }
        }
    }
}

@Suite struct ManifestTests {
    let manifest = SnapshotManifest(
        tenant: "acme", time: Date(timeIntervalSince1970: 1_700_000_000.123), hostname: "h1", source: "/srv/img", kind: .stream,
        tags: ["env": "prod"], stream: ChunkList([ChunkRef(id: ChunkID(bytes: Array(repeating: 1, count: 32)), length: 65536)]))

    @Test(arguments: CryptoSuite.allCases) func roundTrip(suite: CryptoSuite) throws {
        let codec = try ManifestCodec(keys: try TenantKeys(master: Fixtures.master, suite: suite), tenant: "acme")
        let sealed = try codec.seal(manifest)
        #expect(Array(sealed.prefix(11)) == Array("TNDMSNAP".utf8) + [1, 0, suite.manifestCode])
        #expect(Set(CryptoSuite.allCases.map(\.manifestCode)).count == CryptoSuite.allCases.count)
        #expect(try codec.open(sealed) == manifest)
        // The suite byte is authenticated: a manifest cannot claim another suite.
        var relabeled = sealed
        relabeled[10] = suite == .aes256gcm ? 2 : 1
        #expect(throws: FormatError.self) { try codec.open(relabeled) }
    }

    /// A tree is encoded a slice at a time; the bytes must be exactly those of encoding it whole
    /// (every slice size, awkward names and xattrs included), and open back to the same manifest.
    @Test(arguments: [1, 7, 512]) func aTreeEncodedInSlicesIsByteForByteTheWholeEncoding(slice: Int) throws {
        var entries: [TreeEntry] = []
        for index in 0..<1300 {
            let name = index % 97 == 0 ? "odd \"tree\":[] name \(index)" : "dir\(index % 13)/file-\(index).bin"
            entries.append(TreeEntry(path: name, type: index % 50 == 0 ? .directory : .file, mode: 0o644, uid: 1000, gid: 1000,
                                     mtimeNanoseconds: 1_700_000_000_000_000_000 + Int64(index), ctimeNanoseconds: Int64(index),
                                     inode: UInt64(index), device: 64769, size: Int64(index * 100),
                                     chunks: index % 50 == 0 ? nil : ChunkList([ChunkRef(id: ChunkID(bytes: Array(repeating: UInt8(index % 256), count: 32)),
                                                                                   length: index * 100)]),
                                     xattrs: index % 200 == 0 ? ["user.tag": Data([1, 2, 3])] : nil))
        }
        let tree = SnapshotManifest(tenant: "acme", time: Date(timeIntervalSince1970: 1_700_000_000.5), hostname: "h1", source: "/srv",
                                    kind: .tree, tags: ["tree": "[]"], parent: String(repeating: "a", count: 64), tree: entries)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        let json = try ManifestCodec.json(tree, piece: slice * 100)
        #expect(try json == encoder.encode(tree))
        // Decoded a slice at a time, it is the same manifest; JSON laid out otherwise (here
        // pretty-printed, so the key is not found as written) is decoded whole.
        #expect(try ManifestCodec.manifest(fromJSON: Array(json), slice: slice) == tree)
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        #expect(try ManifestCodec.manifest(fromJSON: Array(encoder.encode(tree)), slice: slice) == tree)
        let codec = try ManifestCodec(keys: try TenantKeys(master: Fixtures.master, suite: .aes256gcm), tenant: "acme")
        #expect(try codec.open(codec.seal(tree)) == tree)
        // Fed in pieces of any size, the reader decodes the same manifest; cut short, it fails.
        let bytes = Array(json)
        for piece in [1, 5, 8, 333, 65536] {
            var reader = ManifestJSONReader(slice: slice)
            var at = 0
            while at < bytes.count {
                try reader.feed(Array(bytes[at..<min(at + piece, bytes.count)]))
                at += piece
            }
            #expect(try reader.finish() == tree)
        }
        for cut in [bytes.count / 3, bytes.count - 2] {
            var reader = ManifestJSONReader(slice: slice)
            try reader.feed(Array(bytes[..<cut]))
            let finished = reader
            #expect(throws: (any Error).self) {
                var copy = finished
                _ = try copy.finish()
            }
        }
    }

    @Test func entryWriterWritesWhatJSONEncoderWrites() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var generator = SeededBytes(seed: 29)
        // Every ASCII byte, escapes and controls included, and some multi-byte characters.
        let alphabet = (0..<128).map { String(UnicodeScalar(UInt8($0))) } + ["é", "ß", "日本", "🦀", "\u{2028}", "\u{7F}"]
        for round in 0..<400 {
            let name = (0..<(1 + round % 24)).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }.joined()
            let id = ChunkID(bytes: (0..<32).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
            let chunks: ChunkList? = switch round % 4 {
            case 0: nil
            case 1: ChunkList()
            case 2: ChunkList((0..<(round % 9)).map { ChunkRef(id: id, length: $0 * 4096 + round) })
            default: ChunkList(lists: [ChunkListRef(id: id, count: 1 + round, length: round * 65536)])
            }
            let entry = TreeEntry(path: name, type: round % 3 == 0 ? .symlink : .file, mode: UInt32(round * 7), uid: UInt32(round),
                                  gid: UInt32.max - UInt32(round), mtimeNanoseconds: Int64(round) * -1_000_000_007,
                                  ctimeNanoseconds: Int64.max - Int64(round), inode: UInt64.max - UInt64(round),
                                  device: UInt64(round), size: Int64(round) << 33,
                                  symlinkTarget: round % 3 == 0 ? "../" + name : nil, chunks: chunks)
            var written: [UInt8] = []
            #expect(TreeEntryJSONWriter.append(entry, to: &written))
            #expect(written == Array(try encoder.encode(entry)), "entry \(round): \(String(decoding: written, as: UTF8.self))")
            // And the parser reads it back, alone and after another entry.
            #expect(TreeEntryJSONParser.entries(in: written[...]) == [entry])
            #expect(TreeEntryJSONParser.entries(in: (written + [UInt8(ascii: ",")] + written)[...]) == [entry, entry])
        }
        var untouched: [UInt8] = [1]
        let withXattrs = TreeEntry(path: "x", type: .file, mode: 0, uid: 0, gid: 0, mtimeNanoseconds: 0, ctimeNanoseconds: 0,
                                   inode: 0, device: 0, size: 0, xattrs: ["user.a": Data([1])])
        #expect(!TreeEntryJSONWriter.append(withXattrs, to: &untouched))
        #expect(untouched == [1])
    }

    @Test func entryParserAcceptsOnlyWhatJSONDecoderReadsTheSame() throws {
        let entries = (0..<12).map { index in
            TreeEntry(path: index % 4 == 0 ? "d/\"q\"\\é\u{1}/f\(index)" : "d/f\(index)", type: index % 5 == 0 ? .symlink : .file,
                      mode: 0o644, uid: UInt32(index), gid: 7, mtimeNanoseconds: -Int64(index) * 1_000_003, ctimeNanoseconds: 42,
                      inode: UInt64(index) << 40, device: 9, size: Int64(index * 4096),
                      symlinkTarget: index % 5 == 0 ? "../t" : nil,
                      chunks: index % 3 == 0 ? nil : index % 3 == 1
                        ? ChunkList([ChunkRef(id: ChunkID(bytes: [UInt8](repeating: UInt8(index), count: 32)), length: index * 4096)])
                        : ChunkList(lists: [ChunkListRef(id: ChunkID(bytes: [UInt8](repeating: 3, count: 32)), count: 2, length: 99)]))
        }
        var valid: [UInt8] = []
        for (index, entry) in entries.enumerated() {
            if index > 0 { valid.append(UInt8(ascii: ",")) }
            #expect(TreeEntryJSONWriter.append(entry, to: &valid))
        }
        #expect(TreeEntryJSONParser.entries(in: valid[...]) == entries)
        let decoder = JSONDecoder()
        var generator = SeededBytes(seed: 31)
        let hostile = Array(#"{}[],":\/ 0-9aeEu+."#.utf8) + [0x00, 0x1F, 0x7F, 0xC3, 0xFF]
        var fastAccepted = 0
        let mutations: [Mutation] = [.overwrite(count: 3, alphabet: hostile), .insert(alphabet: hostile), .remove]
        for round in 0..<3000 {
            let input = generator.mutated(valid, mutations[round % 3])
            guard let fast = TreeEntryJSONParser.entries(in: input[...]) else { continue }
            fastAccepted += 1
            // Whatever the parser reads, JSONDecoder reads as the same entries.
            let whole = try? decoder.decode([TreeEntry].self, from: Data([UInt8(ascii: "[")] + input + [UInt8(ascii: "]")]))
            #expect(whole == fast, "round \(round): \(String(decoding: input, as: UTF8.self))")
        }
        // Some mutations keep the form (a digit for a digit, a letter in a name).
        #expect(fastAccepted > 0)
    }

    @Test func manifestReaderNeverTrapsOnHostileJSON() throws {
        let small = SnapshotManifest(tenant: "acme", time: Date(timeIntervalSince1970: 1_700_000_000), hostname: "h",
                                     source: "/srv", kind: .tree, tags: [:], parent: nil,
                                     tree: (0..<40).map { TreeEntry(path: "d/f\($0)", type: .file, mode: 0o600, uid: 0, gid: 0,
                                                                    mtimeNanoseconds: 1, ctimeNanoseconds: 2, inode: UInt64($0),
                                                                    device: 3, size: 0, chunks: ChunkList()) })
        let valid = Array(try ManifestCodec.json(small, piece: 400))
        var generator = SeededBytes(seed: 11)
        var accepted = 0
        let hostile = Array(#"{}[],":\ 0a"#.utf8)
        for round in 0..<600 {
            let input = round % 3 == 2 ? generator.bytes(round % 300)
                : generator.mutated(valid, round % 3 == 0 ? .overwrite(count: 5, alphabet: hostile) : .truncate)
            var reader = ManifestJSONReader(slice: 1 + round % 6)
            if (try? reader.feed(input)) != nil, let decoded = try? reader.finish() {
                accepted += 1
                // What the reader accepts, Foundation's decoder of the whole text accepts as the same.
                let whole = JSONDecoder()
                whole.dateDecodingStrategy = .millisecondsSince1970
                #expect(try whole.decode(SnapshotManifest.self, from: Data(input)) == decoded)
            }
        }
        #expect(accepted < 600)
    }

    @Test func forgedOrMovedManifestsFailAuthentication() throws {
        let keys = try TenantKeys(master: Fixtures.master, suite: .aes256gcm)
        let sealed = try ManifestCodec(keys: keys, tenant: "acme").seal(manifest)
        let otherTenant = try ManifestCodec(keys: keys, tenant: "other")
        #expect(throws: FormatError.authenticationFailed("snapshot")) { try otherTenant.open(sealed) }
        let forger = try ManifestCodec(keys: try TenantKeys(master: SecretKey.random(count: 32), suite: .aes256gcm), tenant: "acme")
        let forged = try forger.seal(manifest)
        #expect(throws: FormatError.authenticationFailed("snapshot")) { try ManifestCodec(keys: keys, tenant: "acme").open(forged) }
        for index in stride(from: 16, to: sealed.count, by: 7) {
            var damaged = sealed
            damaged[index] ^= 4
            #expect(throws: FormatError.self) { try ManifestCodec(keys: keys, tenant: "acme").open(damaged) }
        }
    }

    @Test func newerManifestVersionIsNamed() throws {
        let codec = try ManifestCodec(keys: try TenantKeys(master: Fixtures.master, suite: .aes256gcm), tenant: "acme")
        var sealed = try codec.seal(manifest)
        sealed[8] = 2
        #expect(throws: FormatError.unsupportedVersion("snapshot", found: 2, supported: 1...1)) { try codec.open(sealed) }
    }
}
