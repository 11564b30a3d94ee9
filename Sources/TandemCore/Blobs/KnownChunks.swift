/// The chunk IDs a backup must not store again: those already in the repository, held as one
/// sorted array (32 bytes per ID, no hash buckets), and those stored since the backup began, in a
/// set. 28,000 IDs take 0.9 MiB this way, against about 4 MiB of first-touched memory for a set
/// grown to the same size.
public struct KnownChunks: Sendable {
    private let stored: [ChunkID]
    private var added = Set<ChunkID>()

    /// `stored` in any order; it is sorted here unless it already is.
    public init(stored: [ChunkID]) {
        var ids = stored
        if !ids.isSorted() { ids.sort() }
        self.stored = ids
    }

    /// IDs in the repository plus IDs added since.
    public var count: Int { stored.count + added.count }

    /// Whether `id` is stored or was added.
    public func contains(_ id: ChunkID) -> Bool {
        isStored(id) || added.contains(id)
    }

    /// Adds `id`; true when it was not known before.
    public mutating func insert(_ id: ChunkID) -> Bool {
        guard !isStored(id) else { return false }
        return added.insert(id).inserted
    }

    private func isStored(_ id: ChunkID) -> Bool {
        var low = 0
        var high = stored.count
        while low < high {
            let middle = (low + high) / 2
            if stored[middle] < id { low = middle + 1 } else { high = middle }
        }
        return low < stored.count && stored[low] == id
    }
}

extension Array where Element: Comparable {
    /// Whether every element is no greater than the next.
    func isSorted() -> Bool {
        zip(self, dropFirst()).allSatisfy { $0 <= $1 }
    }
}
