/// Golden chunk boundaries of `SeededBytes(seed: 42).bytes(2 MiB)` under `Fixtures.gear`.
/// A change here changes every existing tenant's dedup: it needs a new repository format.
enum GoldenChunks {
    static let defaultCount = 17
    static let defaultFirst8 = [208806, 147424, 172487, 137263, 94785, 121051, 85300, 123250]
}
