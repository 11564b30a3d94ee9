import Testing
@testable import TandemCore

@Suite("Known chunks")
struct KnownChunksTests {
    private func id(_ seed: UInt8) -> ChunkID {
        ChunkID(bytes: (0..<32).map { UInt8(truncatingIfNeeded: Int(seed) &* 37 &+ $0 &* 11) })
    }

    @Test("stored IDs in any order are found, others are not")
    func storedLookup() {
        let stored = (0..<200).map { id(UInt8($0)) }
        let known = KnownChunks(stored: stored.reversed())
        #expect(known.count == 200)
        for one in stored { #expect(known.contains(one)) }
        #expect(!known.contains(ChunkID(bytes: [UInt8](repeating: 0xFF, count: 32))))
        #expect(!known.contains(ChunkID(bytes: [UInt8](repeating: 0, count: 32))))
    }

    @Test("insert is true once per new ID and false for stored ones")
    func insert() {
        var known = KnownChunks(stored: [id(1), id(2)])
        let insertedStored = known.insert(id(1))
        let insertedNew = known.insert(id(3))
        let insertedAgain = known.insert(id(3))
        #expect(!insertedStored)
        #expect(insertedNew)
        #expect(!insertedAgain)
        #expect(known.contains(id(3)))
        #expect(known.count == 3)
        var empty = KnownChunks(stored: [])
        #expect(!empty.contains(id(9)))
        let insertedIntoEmpty = empty.insert(id(9))
        #expect(insertedIntoEmpty)
    }

    @Test("an ID read from bytes keeps its bytes")
    func idBytes() {
        let bytes = (0..<32).map { UInt8($0 * 7 + 1) }
        #expect(ChunkID(bytes: bytes).bytes == bytes)
        #expect(ChunkID(bytes: bytes[...]) == ChunkID(bytes: bytes))
    }
}
