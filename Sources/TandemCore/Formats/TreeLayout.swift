/// Why a tree manifest's entry cannot be restored safely.
public enum TreeLayoutProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// The root entry ("") is not a directory, or is not the first entry.
    case rootNotFirstDirectory
    /// A path starts with `/`, has an empty component (`a//b`, a trailing `/`) or a NUL byte.
    case malformed(path: String)
    /// A path has a `.` or `..` component.
    case dotComponent(path: String)
    /// Two entries share a path (a directory and a symlink of one name, say).
    case duplicate(path: String)
    /// An entry's parent is not an earlier directory entry of the tree.
    case parentMissing(path: String)
    /// An entry lies below a symlink or a file: restoring it would write through that entry.
    case parentNotDirectory(path: String, parent: String, type: EntryType)

    public var description: String {
        switch self {
        case .rootNotFirstDirectory: "the root entry is not a directory at the head of the tree"
        case .malformed(let path): "entry '\(FileNameBytes.display(path))' is absolute, has an empty component or a NUL byte"
        case .dotComponent(let path): "entry '\(FileNameBytes.display(path))' has a '.' or '..' component"
        case .duplicate(let path): "entry '\(FileNameBytes.display(path))' appears twice"
        case .parentMissing(let path): "entry '\(FileNameBytes.display(path))' comes before (or without) its parent directory"
        case .parentNotDirectory(let path, let parent, let type):
            "entry '\(FileNameBytes.display(path))' lies below '\(FileNameBytes.display(parent))', a \(type.rawValue)"
        }
    }
}

/// The shape every tree manifest must have before anything of it is written to disk: what
/// keeps a restore inside its target whatever a manifest says (it is authenticated, but anyone
/// with the tenant's key can seal one, and a restore usually runs as root).
///
/// The rules, which the tree scanner's walk always satisfies: the root ("") comes first and is a
/// directory; every other path is relative, `/`-separated, with no empty, `.` or `..`
/// component and no NUL; no path appears twice; every entry's parent is an earlier
/// *directory* entry. So no entry can lie below a symlink or a file, and no path can leave the
/// target. Symlink targets may say anything: restore creates links, never follows them.
public enum TreeLayout {
    /// The first problem of `entries`, in order; nil when the tree is safe to restore.
    public static func firstProblem(_ entries: [TreeEntry]) -> TreeLayoutProblem? {
        // Keyed by bytes: Swift compares strings by canonical equivalence, a file system by bytes
        // (`café` in NFC and in NFD are two names), and a grapheme may swallow a `/`.
        var types: [[UInt8]: EntryType] = [:]
        types.reserveCapacity(entries.count)
        for (index, entry) in entries.enumerated() {
            let path = entry.path
            if path.isEmpty {
                guard index == 0, entry.type == .directory else { return .rootNotFirstDirectory }
                continue
            }
            let bytes = Array(path.utf8)
            guard !bytes.contains(0) else { return .malformed(path: path) }
            var components = bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            for component in components {
                if component.isEmpty { return .malformed(path: path) }
                if component.elementsEqual([0x2E]) || component.elementsEqual([0x2E, 0x2E]) { return .dotComponent(path: path) }
            }
            components.removeLast()
            if !components.isEmpty {
                let parent = Array(bytes[..<components.last!.endIndex])
                guard let parentType = types[parent] else { return .parentMissing(path: path) }
                guard parentType == .directory else {
                    return .parentNotDirectory(path: path, parent: String(decoding: parent, as: UTF8.self), type: parentType)
                }
            }
            guard types.updateValue(entry.type, forKey: bytes) == nil else { return .duplicate(path: path) }
        }
        return nil
    }
}
