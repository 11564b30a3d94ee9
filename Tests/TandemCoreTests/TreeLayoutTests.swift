import Testing
import TandemCore

@Suite struct FileNameBytesTests {
    /// Any bytes (as a name holds them: no NUL) come back exactly, and a valid UTF-8 name is
    /// carried as itself.
    @Test func everyByteStringRoundTrips() {
        var random = SeededBytes(seed: 16)
        // Bytes weighted towards what breaks decoders: lone continuation bytes, truncated and
        // overlong sequences, surrogates, F4 8F B6/B7 (the escapes' own encoding), past U+10FFFF.
        let tricky: [UInt8] = [0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xA0, 0xEF, 0xF0, 0xF4, 0x8F, 0xB6, 0xB7, 0xF5, 0xFF, 0x2F, 0x2E, 0x61]
        for round in 0..<5000 {
            let count = Int(random.next() % 24)
            let bytes = (0..<count).map { _ in
                random.next() % 3 == 0 ? UInt8(truncatingIfNeeded: random.next() | 1) : tricky[Int(random.next() % UInt64(tricky.count))]
            }
            let carried = FileNameBytes.string(bytes)
            #expect(FileNameBytes.bytes(carried) == bytes, "round \(round): \(bytes)")
            if let text = String(validating: bytes, as: UTF8.self), !text.unicodeScalars.contains(where: { (0x10FD80...0x10FDFF).contains($0.value) }) {
                #expect(carried == text)
            }
        }
    }

    @Test func latin1NamesAreCarriedAndShown() {
        let name: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".txt".utf8)
        let carried = FileNameBytes.string(name)
        #expect(carried != "caf\u{FFFD}.txt")
        #expect(FileNameBytes.bytes(carried) == name)
        #expect(FileNameBytes.display(carried) == "caf\\xe9.txt")
        #expect(FileNameBytes.string(Array("café/ü".utf8)) == "café/ü")
    }

    /// A valid name that holds an escape scalar itself is escaped too, so it cannot pass for
    /// another name's invalid byte.
    @Test func aNameHoldingAnEscapeScalarStaysDistinct() {
        let lookalike = Array("\u{10FDE9}".utf8)
        let invalid: [UInt8] = [0xE9]
        #expect(FileNameBytes.string(lookalike) != FileNameBytes.string(invalid))
        #expect(FileNameBytes.bytes(FileNameBytes.string(lookalike)) == lookalike)
    }
}

@Suite struct TreeLayoutTests {
    func entry(_ path: String, _ type: EntryType = .file) -> TreeEntry {
        TreeEntry(path: path, type: type, mode: 0o644, uid: 0, gid: 0, mtimeNanoseconds: 0, ctimeNanoseconds: 0,
                  inode: 0, device: 0, size: 0, symlinkTarget: type == .symlink ? "/etc" : nil)
    }

    @Test func theIssueTreeIsRefused() {
        let root = entry("", .directory)
        #expect(TreeLayout.firstProblem([root, entry("esc", .symlink), entry("esc/file")])
                == .parentNotDirectory(path: "esc/file", parent: "esc", type: .symlink))
        #expect(TreeLayout.firstProblem([root, entry("esc", .symlink), entry("esc", .directory)]) == .duplicate(path: "esc"))
        #expect(TreeLayout.firstProblem([root, entry("../escape.txt")]) == .dotComponent(path: "../escape.txt"))
        #expect(TreeLayout.firstProblem([root, entry("/etc/passwd")]) == .malformed(path: "/etc/passwd"))
        #expect(TreeLayout.firstProblem([root, entry("a//b")]) == .malformed(path: "a//b"))
        #expect(TreeLayout.firstProblem([root, entry("a/b")]) == .parentMissing(path: "a/b"))
        #expect(TreeLayout.firstProblem([root, entry("f"), entry("f/g")]) == .parentNotDirectory(path: "f/g", parent: "f", type: .file))
        #expect(TreeLayout.firstProblem([entry("x", .directory), root]) == .rootNotFirstDirectory)
        #expect(TreeLayout.firstProblem([entry("", .symlink)]) == .rootNotFirstDirectory)
        #expect(TreeLayout.firstProblem([root, entry("a", .directory), entry("a/.", .directory)]) == .dotComponent(path: "a/."))
        // A combining mark after `/` must not hide the separator, and NFC/NFD names are two names.
        #expect(TreeLayout.firstProblem([root, entry("s", .symlink), entry("s/\u{301}x")]) != nil)
        #expect(TreeLayout.firstProblem([root, entry("caf\u{E9}"), entry("cafe\u{301}")]) == nil)
    }

    /// Generated trees: the layout check agrees with an independent model of what restoring
    /// would do (each path resolved component by component against what earlier entries made,
    /// the way the kernel would), so no tree the check passes can reach outside its root.
    @Test func generatedTreesAgreeWithAModelOfTheFileSystem() {
        var random = SeededBytes(seed: 17)
        let names = ["a", "b", "c", "d\u{301}", "caf\u{E9}", "a", "b", ".", "..", ""]
        let types: [EntryType] = [.directory, .directory, .file, .symlink]
        var refused = 0
        for _ in 0..<3000 {
            var entries = [entry("", .directory)]
            if random.next() % 20 == 0 { entries.removeAll() }
            for _ in 0..<(1 + Int(random.next() % 8)) {
                let depth = 1 + Int(random.next() % 3)
                // Mostly good names (the first seven), so that deep trees also come out whole.
                var path = (0..<depth).map { _ in names[Int(random.next() % UInt64(random.next() % 8 == 0 ? names.count : 7))] }
                    .joined(separator: "/")
                if random.next() % 25 == 0 { path = "/" + path }
                entries.append(entry(path, types[Int(random.next() % UInt64(types.count))]))
            }
            if random.next() % 10 == 0 { entries.shuffle(using: &random) }
            let verdict = TreeLayout.firstProblem(entries)
            #expect((verdict == nil) == Self.modelRestores(entries), "\(entries.map { "\($0.type.rawValue) \($0.path)" })")
            if verdict != nil { refused += 1 }
        }
        #expect(refused > 300 && refused < 2900)
    }

    /// A file system of byte paths: true when every entry can be made, in order, inside the
    /// root without following a link, going above the root or meeting an existing name.
    static func modelRestores(_ entries: [TreeEntry]) -> Bool {
        var made: [[UInt8]: EntryType] = [[]: .directory]
        for (index, item) in entries.enumerated() {
            if item.path.isEmpty {
                if index != 0 || item.type != .directory { return false }
                continue
            }
            var parent: [UInt8] = []
            let parts = Array(item.path.utf8).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            for (position, part) in parts.enumerated() {
                if part.isEmpty || Array(part) == [0x2E] || Array(part) == [0x2E, 0x2E] { return false }
                let path = parent.isEmpty ? Array(part) : parent + [UInt8(ascii: "/")] + part
                if position == parts.count - 1 {
                    if made[parent] != .directory || made[path] != nil { return false }
                    made[path] = item.type
                } else {
                    parent = path
                }
            }
        }
        return true
    }
}

extension SeededBytes: RandomNumberGenerator {}
