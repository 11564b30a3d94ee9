import Foundation
import Testing
@testable import TandemCore

/// The pax headers `dump` writes, read back field by field as a tar reader does.
@Suite struct PaxTarTests {
    /// Splits a header into its pax records (key → value) and its final ustar block, checking
    /// every block's checksum and every record's stated length.
    static func parse(_ blocks: [UInt8]) -> (records: [String: [UInt8]], ustar: ArraySlice<UInt8>)? {
        guard blocks.count % 512 == 0, blocks.count >= 512 else { return nil }
        var records: [String: [UInt8]] = [:]
        var at = 0
        func octal(_ field: ArraySlice<UInt8>) -> Int64 {
            Int64(String(decoding: field.prefix { $0 != 0 && $0 != 32 }, as: UTF8.self), radix: 8) ?? -1
        }
        while at + 512 <= blocks.count {
            let block = blocks[at..<at + 512]
            var sum: Int64 = 0
            for (index, byte) in block.enumerated() { sum += (148..<156).contains(index) ? 32 : Int64(byte) }
            guard octal(block[(at + 148)..<(at + 156)]) == sum else { return nil }
            guard block[at + 156] == UInt8(ascii: "x") else { return at + 512 == blocks.count ? (records, block) : nil }
            let size = Int(octal(block[(at + 124)..<(at + 136)]))
            var data = Array(blocks[(at + 512)..<(at + 512 + size)])[...]
            while !data.isEmpty {
                guard let space = data.firstIndex(of: 32), let length = Int(String(decoding: data[data.startIndex..<space], as: UTF8.self)),
                      length <= data.count, data[data.startIndex + length - 1] == 10 else { return nil }
                let record = data[(space + 1)..<(data.startIndex + length - 1)]
                guard let equals = record.firstIndex(of: UInt8(ascii: "=")) else { return nil }
                records[String(decoding: record[record.startIndex..<equals], as: UTF8.self)] = Array(record[(equals + 1)...])
                data = data.dropFirst(length)
            }
            at += 512 + (size + 511) / 512 * 512
        }
        return nil
    }

    @Test(arguments: [1, 90, 91, 92, 93, 99, 100, 101, 987, 988, 989, 4096])
    func namesOfEveryLengthSurviveIncludingRecordLengthEdges(length: Int) throws {
        let path = Array(String(repeating: "a/", count: length / 2).utf8.prefix(length - 1)) + [UInt8(ascii: "z")]
        let member = ArchiveMember(path: path, kind: .file, mode: 0o640, uid: 1000, gid: 1000, mtimeNanoseconds: 1_700_000_000_000_000_000, size: 5)
        let parsed = try #require(Self.parse(PaxTar.header(for: member)), "unparsable header for a \(length)-byte name")
        let name = parsed.records["path"] ?? Array(parsed.ustar.prefix(100).prefix { $0 != 0 })
        #expect(name == path)
    }

    @Test func fieldsUstarCannotHoldGoToThePaxHeader() throws {
        let binary: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".txt".utf8)
        let member = ArchiveMember(path: binary, kind: .symlink, mode: 0o777, uid: 3_000_000, gid: 7, mtimeNanoseconds: -1_500_000_000,
                                   linkTarget: Array(repeating: UInt8(ascii: "t"), count: 150), xattrs: [("user.k", [0, 1, 2, 10])])
        let parsed = try #require(Self.parse(PaxTar.header(for: member)))
        #expect(parsed.records["hdrcharset"] == Array("BINARY".utf8))
        #expect(parsed.records["path"] == binary)
        #expect(parsed.records["linkpath"]?.count == 150)
        #expect(parsed.records["uid"] == Array("3000000".utf8))
        #expect(parsed.records["gid"] == nil)
        #expect(parsed.records["mtime"] == Array("-2.500000000".utf8))
        #expect(parsed.records["SCHILY.xattr.user.k"] == [0, 1, 2, 10])
        #expect(parsed.ustar[parsed.ustar.startIndex + 156] == UInt8(ascii: "2"))
        let huge = ArchiveMember(path: Array("big".utf8), kind: .file, mode: 0o600, uid: 0, gid: 0, mtimeNanoseconds: 0, size: 10 << 30)
        #expect(try #require(Self.parse(PaxTar.header(for: huge))).records["size"] == Array(String(10 << 30).utf8))
        let plain = ArchiveMember(path: Array("dir".utf8), kind: .directory, mode: 0o755, uid: 0, gid: 0, mtimeNanoseconds: 1_000_000_000)
        #expect(PaxTar.header(for: plain).count == 512, "a plain member needs no pax header")
        #expect(PaxTar.header(for: plain).prefix(4) == Array("dir/".utf8)[...])
        #expect(PaxTar.padding(after: 0) == 0 && PaxTar.padding(after: 1) == 511 && PaxTar.padding(after: 512) == 0)
    }
}

/// The qcow2 layout's sizes where its tables spill into a second cluster or block.
@Suite struct Qcow2LayoutTests {
    @Test(arguments: [0, 1, 32_700, 32_760, 32_761, 32_768, 70_000])
    func everyHostClusterHasARefcount(dataClusters: Int) {
        let layout = Qcow2Layout(virtualSize: max(1, dataClusters) * 65536 + 1) { $0 < dataClusters }
        #expect(layout.dataClusters == dataClusters)
        #expect(layout.refcountBlocks * Qcow2Layout.refcountsPerBlock >= layout.hostClusters)
        #expect((layout.refcountBlocks - 1) * Qcow2Layout.refcountsPerBlock < layout.hostClusters, "a refcount block too many")
        #expect(layout.refcountTableClusters * 8192 >= layout.refcountBlocks)
        #expect(layout.l2Tables.count == (dataClusters + 8191) / 8192)
        #expect(layout.hostClusters == layout.dataStart + dataClusters)
        var pieces = 0
        layout.forEachMetadataPiece { piece in
            #expect(piece.count % 65536 == 0)
            pieces += piece.count / 65536
        }
        #expect(pieces == layout.dataStart)
    }
}
