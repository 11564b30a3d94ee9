import Testing
@testable import TandemCore

/// The chunk cache's eviction order, against a plain model that scans for the oldest.
@Suite struct RecentlyUsedCacheTests {
    /// The obvious least-recently-used cache: a list in order of use, oldest first.
    struct Model {
        var order: [(key: Int, value: Int, cost: Int)] = []
        let limit: Int
        var cost: Int { order.reduce(0) { $0 + $1.cost } }

        mutating func value(for key: Int) -> Int? {
            guard let index = order.firstIndex(where: { $0.key == key }) else { return nil }
            let entry = order.remove(at: index)
            order.append(entry)
            return entry.value
        }

        mutating func insert(_ value: Int, for key: Int, cost: Int) {
            order.removeAll { $0.key == key }
            while !order.isEmpty, self.cost + cost > limit { order.removeFirst() }
            order.append((key, value, cost))
        }
    }

    /// Random lookups and insertions (few keys, so hits and replacements are common; costs up to
    /// past the budget) keep exactly the model's values, in every seed.
    @Test(arguments: 1...12)
    func keepsWhatTheModelKeeps(seed: UInt64) {
        var random = SplitMix(state: seed &* 7919)
        let limit = 100 + Int(random.next() % 400)
        var cache = RecentlyUsedCache<Int, Int>(limit: limit)
        var model = Model(limit: limit)
        let keys = 5 + Int(random.next() % 60)
        for step in 0..<4000 {
            let key = Int(random.next() % UInt64(keys))
            if random.next() % 3 == 0 {
                let cost = Int(random.next() % UInt64(limit / 4 + (step % 97 == 0 ? limit : 0)))
                cache.insert(step, for: key, cost: cost)
                model.insert(step, for: key, cost: cost)
            } else {
                #expect(cache.value(for: key) == model.value(for: key), "seed \(seed) step \(step) key \(key)")
            }
            #expect(cache.count == model.order.count, "seed \(seed) step \(step)")
            #expect(cache.cost == model.cost, "seed \(seed) step \(step)")
            #expect(cache.cost <= limit || cache.count == 1, "over budget with more than one value at step \(step)")
        }
        for key in 0..<keys { #expect(cache.value(for: key) == model.value(for: key), "seed \(seed) key \(key) at the end") }
    }

    /// After a long run of hits (the queue of uses compacted many times) the least recently
    /// used value is still the one evicted.
    @Test func theOldestIsFoundAfterManyHits() {
        var cache = RecentlyUsedCache<Int, [UInt8]>(limit: 1 << 20)
        for key in 0..<10 { cache.insert([UInt8(key)], for: key, cost: 1) }
        for round in 0..<100_000 { _ = cache.value(for: round % 10) }
        // The oldest now is the key used least recently: 0 was used at round 99_990.
        cache.insert([], for: 99, cost: (1 << 20) - 9)
        #expect(cache.value(for: 0) == nil)
        #expect(cache.value(for: 1) == [1])
        #expect(cache.count == 10)
        cache.removeAll()
        #expect(cache.count == 0 && cache.cost == 0)
    }
}
