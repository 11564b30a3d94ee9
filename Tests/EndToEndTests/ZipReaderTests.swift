import Foundation
import Testing
import TandemCodecs
import TandemCore
import TandemTestSupport

/// ``ZipArchive`` read back by Python's `zipfile` and Info-ZIP `unzip`: generated members
/// (names as arbitrary bytes, every kind, sizes around the edges), with ZIP64 fields where
/// needed and everywhere, and more members than the 16-bit count holds.
@Suite struct ZipReaderTests {
    /// What Python's zipfile reads of an archive: per member its name's bytes, size, mode,
    /// DOS time and SHA-256, after checking every CRC (`testzip`).
    static let reader = """
        import hashlib, json, sys, zipfile
        with zipfile.ZipFile(sys.argv[1]) as z:
            bad = z.testzip()
            if bad is not None:
                sys.exit("bad CRC: %r" % bad)
            for info in z.infolist():
                raw = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
                data = z.read(info)
                print(json.dumps([raw.hex(), info.file_size, info.external_attr >> 16, list(info.date_time),
                                  hashlib.sha256(data).hexdigest()]))
        """

    /// Members and their bytes from `seed`: files (some empty), directories and symlinks,
    /// names of random bytes (not always UTF-8).
    static func members(seed: UInt64, count: Int) -> [(member: ArchiveMember, content: [UInt8])] {
        var random = SeededRandom(seed: seed)
        var out: [(ArchiveMember, [UInt8])] = []
        for index in 0..<count {
            var name = Array("m\(index)-".utf8)
            for _ in 0..<random.below(40) {
                let byte = UInt8(1 + random.below(255))
                if byte != UInt8(ascii: "/") { name.append(byte) }
            }
            let mtime = Int64(random.below(4_000_000_000)) * 1_000_000_000 + Int64(random.below(1_000_000_000))
            var member = ArchiveMember(path: name, kind: .file, mode: UInt32(random.below(0o10000)), uid: UInt32(random.below(70000)),
                                       gid: UInt32(random.below(70000)), mtimeNanoseconds: mtime)
            var content: [UInt8] = []
            switch random.below(6) {
            case 0: member.kind = .directory
            case 1:
                member.kind = .symlink
                member.linkTarget = Array("../target-\(random.below(1000))".utf8)
                content = member.linkTarget
            default:
                let sizes = [0, 1, 511, 4096, 65536 + random.below(100_000)]
                content = (0..<sizes[random.below(sizes.count)]).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                member.size = Int64(content.count)
            }
            out.append((member, content))
        }
        return out
    }

    /// Writes the members as the dump streams them: whole members at once, files as local
    /// header, bytes, descriptor.
    static func archive(_ members: [(member: ArchiveMember, content: [UInt8])], zip64: ZipArchive.Zip64) -> [UInt8] {
        var zip = ZipArchive(zip64: zip64)
        var bytes: [UInt8] = []
        for (member, content) in members {
            if member.kind == .file && !content.isEmpty {
                bytes += zip.localHeader(for: member)
                bytes += content
                bytes += zip.descriptor(crc: CRC32(of: content).value)
            } else {
                bytes += zip.wholeMember(member)
            }
            #expect(zip.offset == UInt64(bytes.count), "the archive's offset drifted")
        }
        bytes += zip.end()
        return bytes
    }

    static func read(_ bytes: [UInt8], in scratch: Scratch) throws -> [String] {
        let path = scratch.file("a.zip")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let result = try DumpTests.run("/usr/bin/python3", ["-c", reader, path])
        #expect(result.status == 0, "zipfile: \(result.output.suffix(2000))")
        let unzip = try DumpTests.run("/usr/bin/unzip", ["-tqq", path])
        #expect(unzip.status == 0, "unzip -t: \(unzip.output.suffix(2000))")
        return result.output.split(separator: "\n").map(String.init)
    }

    /// What the reader must print for `members`.
    static func expected(_ members: [(member: ArchiveMember, content: [UInt8])]) -> [String] {
        members.map { member, content in
            var name = member.path
            if member.kind == .directory { name.append(UInt8(ascii: "/")) }
            let type: UInt32 = member.kind == .directory ? 0o040000 : member.kind == .symlink ? 0o120000 : 0o100000
            let (time, date) = ZipArchive.dosTimeAndDate(ZipArchive.seconds(member.mtimeNanoseconds))
            let dateTime = [Int(date >> 9) + 1980, Int(date >> 5 & 15), Int(date & 31), Int(time >> 11), Int(time >> 5 & 63), Int(time & 31) * 2]
            let json = try! JSONSerialization.data(withJSONObject: [name.map { String(format: "%02x", $0) }.joined(), content.count,
                                                                    Int(type | member.mode & 0o7777), dateTime,
                                                                    sha256Hex(content)], options: [.withoutEscapingSlashes])
            return String(decoding: json, as: UTF8.self).replacingOccurrences(of: ",", with: ", ")
        }
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String {
        let hasher = Hasher256(.sha256)
        hasher.update(bytes)
        return Hex.encode(hasher.finalize())
    }

    @Test(arguments: [(UInt64(1), ZipArchive.Zip64.whenNeeded), (2, .always), (3, .whenNeeded), (4, .always)])
    func pythonsZipfileReadsGeneratedMembersExactly(seed: UInt64, zip64: ZipArchive.Zip64) throws {
        let scratch = Scratch()
        let members = Self.members(seed: seed, count: 60)
        let read = try Self.read(Self.archive(members, zip64: zip64), in: scratch)
        let expected = Self.expected(members)
        #expect(read.count == expected.count)
        for (got, want) in zip(read, expected) { #expect(got == want) }
    }

    @Test func moreMembersThanTheSixteenBitCountUseTheZip64EndRecord() throws {
        let scratch = Scratch()
        let member = ArchiveMember(path: [], kind: .file, mode: 0o644, uid: 0, gid: 0, mtimeNanoseconds: 1_700_000_000_000_000_000)
        let members = (0..<70_000).map { index in
            var named = member
            named.path = Array("e\(index)".utf8)
            return (member: named, content: [UInt8]())
        }
        let bytes = Self.archive(members, zip64: .whenNeeded)
        // The classic end record says "see ZIP64" (0xFFFF members).
        #expect(bytes.suffix(22).prefix(4) == [0x50, 0x4B, 0x05, 0x06] && bytes.suffix(22).dropFirst(8).prefix(2) == [0xFF, 0xFF])
        let read = try Self.read(bytes, in: scratch)
        #expect(read.count == 70_000)
        #expect(read.last?.hasPrefix("[\"" + Array("e69999".utf8).map { String(format: "%02x", $0) }.joined()) == true)
    }

    @Test func dosTimesAreClampedToTheirRange() {
        #expect(ZipArchive.dosTimeAndDate(0) == (0, 1 << 5 | 1), "before 1980: 1980-01-01 00:00")
        // 2026-12-07 20:09:53 UTC: seconds are halved.
        let (time, date) = ZipArchive.dosTimeAndDate(1_796_674_193)
        #expect(date == UInt16(46 << 9 | 12 << 5 | 7) && time == UInt16(20 << 11 | 9 << 5 | 26))
        #expect(ZipArchive.dosTimeAndDate(9_000_000_000) == ZipArchive.dosTimeAndDate(4_354_819_198), "after 2107: its last second")
        #expect(ZipArchive.seconds(-1) == -1 && ZipArchive.seconds(1_999_999_999) == 1)
    }
}
