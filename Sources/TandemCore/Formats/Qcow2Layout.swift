/// A qcow2 (version 3) image laid out for writing front to back: the header, the L1 table,
/// the refcount table and blocks, the L2 tables, then the allocated data clusters in guest
/// order. Clusters that read as zeros are simply not allocated, so the file is sparse
/// wherever the snapshot has zero chunks. Every metadata table is computed on demand, one at
/// a time, from which guest clusters hold data, so a 2 TB image needs no more than a bitmap
/// of its clusters (4 MiB) and one table at a time. Format: QEMU's `docs/interop/qcow2.txt`.
public struct Qcow2Layout: Sendable {
    public static let clusterBits = 16
    public static let clusterSize = 1 << clusterBits
    /// 16-bit refcounts.
    static let refcountOrder = 4
    static let entriesPerL2 = clusterSize / 8
    static let refcountsPerBlock = (clusterSize * 8) >> refcountOrder
    static let copied: UInt64 = 1 << 63

    public let virtualSize: Int
    /// Guest clusters that hold data, one bit each.
    private let allocated: [UInt64]
    public let guestClusters: Int
    public let dataClusters: Int
    let l1Entries: Int
    let l1Clusters: Int
    /// L1 indexes whose range holds data: one L2 table each, in this order.
    let l2Tables: [Int]
    let refcountTableClusters: Int
    let refcountBlocks: Int
    /// Host cluster numbers where each part starts.
    let l1Start = 1
    let refcountTableStart: Int
    let refcountBlocksStart: Int
    let l2Start: Int
    public let dataStart: Int
    /// Every cluster of the file.
    public let hostClusters: Int

    /// `isAllocated(i)` tells whether guest cluster `i` (bytes `i << 16 ..< (i + 1) << 16`) holds data.
    public init(virtualSize: Int, isAllocated: (Int) -> Bool) {
        self.virtualSize = virtualSize
        guestClusters = (virtualSize + Self.clusterSize - 1) / Self.clusterSize
        var bits = [UInt64](repeating: 0, count: (guestClusters + 63) / 64)
        var count = 0
        var tables: [Int] = []
        for cluster in 0..<guestClusters where isAllocated(cluster) {
            bits[cluster / 64] |= 1 << UInt64(cluster % 64)
            count += 1
            if tables.last != cluster / Self.entriesPerL2 { tables.append(cluster / Self.entriesPerL2) }
        }
        allocated = bits
        dataClusters = count
        l2Tables = tables
        l1Entries = max(1, (guestClusters + Self.entriesPerL2 - 1) / Self.entriesPerL2)
        l1Clusters = (l1Entries * 8 + Self.clusterSize - 1) / Self.clusterSize
        // The refcount blocks count themselves and the table that lists them: settle the sizes.
        var blocks = 1, tableClusters = 1
        while true {
            let total = 1 + l1Clusters + tableClusters + blocks + tables.count + count
            let neededBlocks = (total + Self.refcountsPerBlock - 1) / Self.refcountsPerBlock
            let neededTable = (neededBlocks * 8 + Self.clusterSize - 1) / Self.clusterSize
            if neededBlocks == blocks && neededTable == tableClusters { break }
            blocks = max(blocks, neededBlocks)
            tableClusters = max(tableClusters, neededTable)
        }
        refcountBlocks = blocks
        refcountTableClusters = tableClusters
        refcountTableStart = l1Start + l1Clusters
        refcountBlocksStart = refcountTableStart + tableClusters
        l2Start = refcountBlocksStart + blocks
        dataStart = l2Start + tables.count
        hostClusters = dataStart + count
    }

    public func isAllocated(_ cluster: Int) -> Bool { allocated[cluster / 64] & (1 << UInt64(cluster % 64)) != 0 }

    /// The metadata, in file order, one cluster-aligned piece at a time (`body` gets each);
    /// the data clusters follow, in guest order, for the clusters that are allocated.
    public func forEachMetadataPiece(_ body: ([UInt8]) throws -> Void) rethrows {
        try body(header())
        try body(l1Table())
        try body(refcountTable())
        for block in 0..<refcountBlocks { try body(refcountBlock(block)) }
        var rank = 0
        for table in l2Tables {
            var out = [UInt8](repeating: 0, count: Self.clusterSize)
            let first = table * Self.entriesPerL2
            for entry in 0..<Self.entriesPerL2 where first + entry < guestClusters && isAllocated(first + entry) {
                put(UInt64((dataStart + rank) << Self.clusterBits) | Self.copied, into: &out, at: entry * 8)
                rank += 1
            }
            try body(out)
        }
    }

    func header() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.clusterSize)
        put(0x5146_49fb, width: 4, into: &out, at: 0)
        put(3, width: 4, into: &out, at: 4)
        put(UInt64(Self.clusterBits), width: 4, into: &out, at: 20)
        // In whole 512-byte sectors, as qemu reads it: an odd tail reads as zeros.
        put(UInt64((virtualSize + 511) / 512 * 512), into: &out, at: 24)
        put(UInt64(l1Entries), width: 4, into: &out, at: 36)
        put(UInt64(l1Start << Self.clusterBits), into: &out, at: 40)
        put(UInt64(refcountTableStart << Self.clusterBits), into: &out, at: 48)
        put(UInt64(refcountTableClusters), width: 4, into: &out, at: 56)
        put(UInt64(Self.refcountOrder), width: 4, into: &out, at: 96)
        put(104, width: 4, into: &out, at: 100)
        // Header extensions end at once: an end marker (type 0, length 0) at byte 104.
        return out
    }

    func l1Table() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: l1Clusters * Self.clusterSize)
        for (index, table) in l2Tables.enumerated() {
            put(UInt64((l2Start + index) << Self.clusterBits) | Self.copied, into: &out, at: table * 8)
        }
        return out
    }

    func refcountTable() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: refcountTableClusters * Self.clusterSize)
        for block in 0..<refcountBlocks { put(UInt64((refcountBlocksStart + block) << Self.clusterBits), into: &out, at: block * 8) }
        return out
    }

    /// Every cluster of the file is used once: refcount 1 up to the last one.
    func refcountBlock(_ block: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.clusterSize)
        let first = block * Self.refcountsPerBlock
        for entry in 0..<Self.refcountsPerBlock where first + entry < hostClusters { out[entry * 2 + 1] = 1 }
        return out
    }

    private func put(_ value: UInt64, width: Int = 8, into out: inout [UInt8], at offset: Int) {
        for index in 0..<width { out[offset + index] = UInt8(truncatingIfNeeded: value >> UInt64(8 * (width - 1 - index))) }
    }
}
