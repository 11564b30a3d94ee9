import Foundation

/// The output of `gen_dataset.py`: two images and two trees, with their sizes.
struct Dataset: Encodable {
    let directory: String
    let imageV1: String
    let imageV2: String
    let treeV1: String
    let treeV2: String
    let imageV1Bytes: Int64
    let imageV2Bytes: Int64
    let treeV1Bytes: Int64
    let treeV2Bytes: Int64
    let treeV1Files: Int
    let treeV2Files: Int

    init(directory: String) throws {
        let dir = try Files.realPath(directory)
        self.directory = dir
        imageV1 = dir + "/image-v1.raw"
        imageV2 = dir + "/image-v2.raw"
        treeV1 = dir + "/tree-v1"
        treeV2 = dir + "/tree-v2"
        guard let s1 = Files.size(imageV1), let s2 = Files.size(imageV2) else {
            throw BenchError("\(dir) lacks image-v1.raw/image-v2.raw: generate it with gen_dataset.py --seed 42 --out \(dir)")
        }
        guard Files.isDirectory(treeV1), Files.isDirectory(treeV2) else {
            throw BenchError("\(dir) lacks tree-v1/ and tree-v2/ (a tree was left renamed? see WORK/tree.origin)")
        }
        imageV1Bytes = s1
        imageV2Bytes = s2
        let files1 = Files.regularFiles(under: treeV1), files2 = Files.regularFiles(under: treeV2)
        treeV1Bytes = files1.reduce(0) { $0 + $1.size }
        treeV2Bytes = files2.reduce(0) { $0 + $1.size }
        treeV1Files = files1.count
        treeV2Files = files2.count
    }
}

/// Puts tree-v1 or tree-v2 at one fixed path (`WORK/tree`) by rename(2), as gen_dataset.py's
/// note asks: every tool then sees v2 as a later state of the same directory, and since a rename
/// keeps inodes and ctimes, unchanged files (hard links shared by v1 and v2) look unchanged to
/// each tool's metadata cache. A marker file records where the tree came from, so an interrupted
/// run can be undone by the next one.
struct TreeSwap {
    let path: String
    private var marker: String { path + ".origin" }

    init(work: String) { path = work + "/tree" }

    /// Moves `source` to ``path``.
    func bring(_ source: String) throws {
        try recover()
        try String(source).write(toFile: marker, atomically: true, encoding: .utf8)
        try Files.rename(source, path)
    }

    /// Moves the tree back to where it came from (no-op if nothing is swapped in).
    func recover() throws {
        guard let origin = try? String(contentsOfFile: marker, encoding: .utf8) else { return }
        if Files.exists(path) {
            guard !Files.exists(origin) else { throw BenchError("both \(path) and \(origin) exist; move one back by hand") }
            try Files.rename(path, origin)
            Log.info("moved \(path) back to \(origin)")
        }
        try Files.remove(marker)
    }
}
