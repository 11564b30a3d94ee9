/// Values kept up to a budget (their costs, in bytes say), the least recently used evicted
/// first. A lookup and an insertion each cost constant time, amortized: uses are queued in
/// order, and a queued use a later one superseded is skipped when it reaches the front, so a
/// cache of thousands of decoded chunks never scans them all to find the oldest. Inlinable,
/// so that the modules using it get it specialized to their types.
public struct RecentlyUsedCache<Key: Hashable, Value> {
    @usableFromInline struct Entry {
        @usableFromInline var value: Value
        @usableFromInline var cost: Int
        @usableFromInline var used: Int
        @inlinable init(value: Value, cost: Int, used: Int) {
            self.value = value
            self.cost = cost
            self.used = used
        }
    }

    @usableFromInline struct Use {
        @usableFromInline let key: Key
        @usableFromInline let used: Int
        @inlinable init(key: Key, used: Int) {
            self.key = key
            self.used = used
        }
    }

    @usableFromInline var entries: [Key: Entry] = [:]
    /// Uses in order, from `head` on; one whose `used` is not its entry's is stale.
    @usableFromInline var uses: [Use] = []
    @usableFromInline var head = 0
    @usableFromInline var clock = 0
    /// The sum of the costs of the values kept.
    @inlinable public var cost: Int { storedCost }
    @usableFromInline var storedCost = 0
    /// The budget; a value costing more than it is still kept, alone.
    public let limit: Int

    @inlinable public init(limit: Int) {
        self.limit = limit
    }

    /// The values kept.
    @inlinable public var count: Int { entries.count }

    /// The value kept for `key`, which becomes the most recently used.
    @inlinable public mutating func value(for key: Key) -> Value? {
        guard let value = entries[key]?.value else { return nil }
        clock += 1
        entries[key]?.used = clock
        record(key)
        return value
    }

    /// Keeps `value` for `key` (replacing what was kept), first evicting the least recently used
    /// values until it fits within the budget.
    @inlinable public mutating func insert(_ value: Value, for key: Key, cost: Int) {
        precondition(cost >= 0, "RecentlyUsedCache: a negative cost")
        if let old = entries.removeValue(forKey: key) { storedCost -= old.cost }
        while storedCost + cost > limit, evictOldest() {}
        clock += 1
        entries[key] = Entry(value: value, cost: cost, used: clock)
        storedCost += cost
        record(key)
    }

    /// Forgets every value.
    @inlinable public mutating func removeAll() {
        entries = [:]
        uses = []
        head = 0
        storedCost = 0
    }

    @inlinable mutating func record(_ key: Key) {
        uses.append(Use(key: key, used: clock))
        // Mostly stale uses (many lookups, few evictions): keep only the live ones, in order.
        if uses.count - head > 2 * entries.count + 64 {
            uses = uses[head...].filter { entries[$0.key]?.used == $0.used }
            head = 0
        } else if head > 1024, head * 2 > uses.count {
            // Mostly uses already passed by evictions.
            uses.removeFirst(head)
            head = 0
        }
    }

    @inlinable mutating func evictOldest() -> Bool {
        while head < uses.count {
            let use = uses[head]
            head += 1
            if let entry = entries[use.key], entry.used == use.used {
                entries[use.key] = nil
                storedCost -= entry.cost
                return true
            }
        }
        return false
    }
}
