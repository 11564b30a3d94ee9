import Foundation
import Testing
@testable import TandemCore

/// The namespace a mount shows: snapshot directories filled in on first look, every entry of a
/// generated tree reachable by its path with its metadata, hard links sharing an inode, and
/// link counts as `find` relies on them.
@Suite struct MountTreeTests {
    static let snapshots = [
        MountTree.Snapshot(id: "bbbbbbbbbbbbbbbb", time: Date(timeIntervalSince1970: 1_800_000_000), isImage: false, imageName: ""),
        MountTree.Snapshot(id: "aaaaaaaaaaaaaaaa", time: Date(timeIntervalSince1970: 1_700_000_000), isImage: true, imageName: "disk.raw"),
    ]

    /// A generated tree: directories nested up to four deep, files (some hard-linked),
    /// symlinks, names as arbitrary bytes, an entry whose parent is implied.
    static func entries(seed: UInt64) -> [TreeEntry] {
        var random = SeededBytes(seed: seed)
        var directories = [""]
        var entries = [TreeEntry(path: "", type: .directory, mode: 0o700, uid: 5, gid: 6, mtimeNanoseconds: 1, ctimeNanoseconds: 1,
                                 inode: 1, device: 1, size: 0)]
        var files: [UInt64] = []
        for index in 0..<300 {
            let parent = directories[Int(random.next() % UInt64(directories.count))]
            var name = Array("n\(index)".utf8)
            for _ in 0..<(random.next() % 6) {
                let byte = UInt8(truncatingIfNeeded: random.next() % 254 + 1)
                name.append(byte == 0x2F ? 0x5F : byte)
            }
            let path = (parent.isEmpty ? "" : parent + "/") + FileNameBytes.string(name)
            let mtime = Int64(random.next() % 4_000_000_000_000_000_000)
            switch random.next() % 5 {
            case 0:
                entries.append(TreeEntry(path: path, type: .directory, mode: UInt32(random.next() % 0o10000), uid: 1, gid: 2,
                                         mtimeNanoseconds: mtime, ctimeNanoseconds: 0, inode: 0, device: 0, size: 0))
                directories.append(path)
            case 1:
                entries.append(TreeEntry(path: path, type: .symlink, mode: 0o777, uid: 3, gid: 4, mtimeNanoseconds: mtime, ctimeNanoseconds: 0,
                                         inode: 0, device: 0, size: 0, symlinkTarget: "../t\(index)"))
            default:
                // One file in three shares an earlier file's inode.
                let inode = !files.isEmpty && random.next() % 3 == 0 ? files[Int(random.next() % UInt64(files.count))] : UInt64(1000 + index)
                files.append(inode)
                let length = Int(random.next() % 5000)
                let list = ChunkList(length == 0 ? [] : [ChunkRef(id: ChunkID(bytes: [UInt8](repeating: UInt8(index % 256), count: 32)), length: length)])
                entries.append(TreeEntry(path: path, type: .file, mode: UInt32(random.next() % 0o10000), uid: 7, gid: 8, mtimeNanoseconds: mtime,
                                         ctimeNanoseconds: 0, inode: inode, device: 9, size: Int64(length), chunks: list,
                                         xattrs: random.next() % 4 == 0 ? ["user.k\(index)": Data([1, 2, UInt8(index % 256)])] : nil))
            }
        }
        return entries
    }

    /// The inode reached by walking `path` (bytes split at '/') from `start`.
    static func walk(_ tree: MountTree, from start: UInt64, _ path: [UInt8]) -> UInt64? {
        var inode = start
        for part in path.split(separator: 0x2F) {
            guard let next = tree.lookup(inode, Array(part)) else { return nil }
            inode = next
        }
        return inode
    }

    @Test func snapshotsAreListedByTimeAndFilledInOnFirstLook() throws {
        var tree = MountTree(snapshots: Self.snapshots, uid: 0, gid: 0, nowNanoseconds: 0)
        let list = try #require(tree.lookup(MountTree.rootInode, Array("snapshots".utf8)))
        let names = tree.node(list)!.children.map { String(decoding: $0.name, as: UTF8.self) }
        #expect(names == ["2023-11-14T22:13:20Z-aaaaaaaa", "2027-01-15T08:00:00Z-bbbbbbbb", "latest"])
        let latest = try #require(tree.lookup(list, Array("latest".utf8)))
        #expect(tree.node(latest)?.content == .link(Array("2027-01-15T08:00:00Z-bbbbbbbb".utf8)))
        let image = try #require(tree.lookup(list, Array(names[0].utf8)))
        #expect(tree.node(image)?.pending?.id == "aaaaaaaaaaaaaaaa" && tree.node(image)?.children.isEmpty == true)
        let chunks = ChunkList([ChunkRef(id: ChunkID(bytes: [UInt8](repeating: 1, count: 32)), length: 4096)])
        tree.populate(image, image: chunks, uid: 10, gid: 11)
        let file = try #require(tree.lookup(image, Array("disk.raw".utf8)))
        #expect(tree.node(file)?.attributes == MountTree.Attributes(kind: .file, mode: 0o444, uid: 10, gid: 11, size: 4096,
                                                                    mtimeNanoseconds: 1_700_000_000_000_000_000, links: 1))
        #expect(tree.node(image)?.pending == nil)
        // A second fill-in (two lookups raced) changes nothing.
        tree.populate(image, image: chunks, uid: 10, gid: 11)
        #expect(tree.node(image)?.children.count == 1)
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func everyEntryIsReachableWithItsMetadata(seed: UInt64) throws {
        var tree = MountTree(snapshots: Self.snapshots, uid: 0, gid: 0, nowNanoseconds: 0)
        let list = try #require(tree.lookup(MountTree.rootInode, Array("snapshots".utf8)))
        let root = try #require(tree.lookup(list, Array("2027-01-15T08:00:00Z-bbbbbbbb".utf8)))
        let entries = Self.entries(seed: seed)
        try tree.populate(root, tree: entries)
        var linkCounts: [String: UInt32] = [:]
        for entry in entries where entry.type == .file { linkCounts["\(entry.inode)", default: 0] += 1 }
        var firstOfInode: [UInt64: UInt64] = [:]
        for entry in entries.dropFirst() {
            let inode = try #require(Self.walk(tree, from: root, FileNameBytes.bytes(entry.path)), "\(entry.path) is missing")
            let node = try #require(tree.node(inode))
            // A later name of a hard-linked file shows the first's metadata (as a file system does).
            if entry.type != .file || firstOfInode[entry.inode] == nil {
                #expect(node.attributes.uid == entry.uid && node.attributes.gid == entry.gid && node.attributes.mode == entry.mode & 0o7777)
            }
            switch entry.type {
            case .file:
                if let first = firstOfInode[entry.inode] {
                    #expect(first == inode, "a hard link has an inode of its own")
                } else {
                    firstOfInode[entry.inode] = inode
                    #expect(node.attributes.mtimeNanoseconds == entry.mtimeNanoseconds && node.attributes.size == entry.size)
                    #expect(node.xattrs.map(\.name) == (entry.xattrs ?? [:]).keys.sorted())
                }
                #expect(node.attributes.links == linkCounts["\(entry.inode)"])
            case .symlink:
                #expect(node.content == .link(FileNameBytes.bytes(entry.symlinkTarget ?? "")) && node.attributes.size == Int64(entry.symlinkTarget!.utf8.count))
            case .directory:
                let subdirectories = node.children.filter { tree.node($0.inode)?.attributes.kind == .directory }.count
                #expect(node.attributes.links == UInt32(2 + subdirectories), "find's leaf optimisation needs 2 + subdirectories")
                #expect(node.attributes.mtimeNanoseconds == entry.mtimeNanoseconds)
            }
        }
        let named = tree.node(root)!.children.count + entries.dropFirst().filter { $0.path.contains("/") }.count
        #expect(named == entries.count - 1, "an entry is listed twice or not at all")
    }

    @Test func anUnsafeTreeIsRefused() {
        var tree = MountTree(snapshots: Self.snapshots, uid: 0, gid: 0, nowNanoseconds: 0)
        let list = tree.lookup(MountTree.rootInode, Array("snapshots".utf8))!
        let root = tree.lookup(list, Array("2027-01-15T08:00:00Z-bbbbbbbb".utf8))!
        let escape = TreeEntry(path: "../etc/passwd", type: .file, mode: 0o644, uid: 0, gid: 0, mtimeNanoseconds: 0, ctimeNanoseconds: 0,
                               inode: 0, device: 0, size: 0)
        #expect(throws: FormatError.self) { try tree.populate(root, tree: [escape]) }
    }
}
