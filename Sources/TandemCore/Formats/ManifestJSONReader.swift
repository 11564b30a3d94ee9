import Foundation

/// Decodes a manifest's JSON as it arrives, so the whole document is never held at once.
///
/// Foundation's decoder first builds a map of the document it decodes, about three times its
/// size, and the document itself is as large again: for a 20,000-file tree 5.6 MB of JSON, the
/// largest transient of a re-backup, which reads its parent. Here bytes are fed in pieces
/// (as a stream decompressor yields them). The shell — everything but the tree's entries — is
/// kept; the entries are decoded a slice at a time, cut where a comma stands between two
/// entries, and their bytes dropped. JSON laid out otherwise than ``ManifestCodec`` writes it
/// (the key `"tree":[` not found as written) is kept whole and decoded whole at the end.
struct ManifestJSONReader {
    private enum Phase {
        /// Before the tree's `[`: bytes go to `pending`.
        case shell
        /// Inside the tree: `pending` holds the entries not decoded yet.
        case tree
        /// After the tree's `]`: bytes go to `tail`.
        case tail
    }

    private static let treeKey = Array(#""tree":["#.utf8)

    private let slice: Int
    private let decoder: JSONDecoder
    private var phase = Phase.shell
    private var head: [UInt8] = []
    private var pending: [UInt8] = []
    private var tail: [UInt8] = []
    /// Bytes of `pending` already scanned.
    private var scanned = 0
    private var depth = 0
    private var inString = false
    private var escaped = false
    /// Commas between entries since the last slice was decoded.
    private var commas = 0
    private var entries: [TreeEntry] = []

    init(slice: Int = 512) {
        precondition(slice > 0, "a slice holds at least one entry")
        self.slice = slice
        decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
    }

    /// Takes the next bytes of the document.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) throws {
        switch phase {
        case .tail:
            tail.append(contentsOf: bytes)
        case .shell, .tree:
            pending.append(contentsOf: bytes)
            try scan()
        }
    }

    /// Array convenience for ``feed(_:)``.
    mutating func feed(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try feed($0) }
    }

    /// The manifest, once every byte has been fed.
    mutating func finish() throws -> SnapshotManifest {
        switch phase {
        case .shell:
            return try decoder.decode(SnapshotManifest.self, from: Data(pending))
        case .tree:
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "the tree's entries do not end"))
        case .tail:
            var manifest = try decoder.decode(SnapshotManifest.self, from: Data(head + tail))
            manifest.tree = entries
            return manifest
        }
    }

    private mutating func scan() throws {
        var index = scanned
        while index < pending.count {
            let byte = pending[index]
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                index += 1
                continue
            }
            switch (phase, byte) {
            case (.shell, UInt8(ascii: "\"")):
                guard depth == 1 else {
                    inString = true
                    break
                }
                // The key may be cut between two pieces: wait for the rest.
                guard pending.count - index >= Self.treeKey.count else {
                    scanned = index
                    return
                }
                guard pending[index ..< index + Self.treeKey.count].elementsEqual(Self.treeKey) else {
                    inString = true
                    break
                }
                head = Array(pending[..<(index + Self.treeKey.count)])
                pending.removeFirst(index + Self.treeKey.count)
                phase = .tree
                depth = 0
                index = 0
                continue
            case (_, UInt8(ascii: "\"")):
                inString = true
            case (_, UInt8(ascii: "{")), (_, UInt8(ascii: "[")):
                depth += 1
            case (.tree, UInt8(ascii: "]")) where depth == 0:
                try decodeEntries(upTo: index)
                tail = Array(pending[index...])
                pending = []
                phase = .tail
                scanned = 0
                return
            case (_, UInt8(ascii: "}")), (_, UInt8(ascii: "]")):
                depth -= 1
            case (.tree, UInt8(ascii: ",")) where depth == 0:
                commas += 1
                if commas == slice {
                    try decodeEntries(upTo: index)
                    pending.removeFirst(index + 1)
                    commas = 0
                    index = 0
                    continue
                }
            default:
                break
            }
            index += 1
        }
        scanned = index
    }

    /// Decodes the entries in `pending[..<end]` (entries and the commas between them): as
    /// ``TreeEntryJSONWriter`` wrote them if they read so, else with `JSONDecoder`.
    private mutating func decodeEntries(upTo end: Int) throws {
        guard end > 0 else { return }
        if let written = TreeEntryJSONParser.entries(in: pending[..<end]) {
            entries += written
            return
        }
        entries += try decoder.decode([TreeEntry].self, from: Data([UInt8(ascii: "[")] + pending[..<end] + [UInt8(ascii: "]")]))
    }
}
