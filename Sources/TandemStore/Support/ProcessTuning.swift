import CTandemSystem
import Foundation

/// Process-wide settings for a Tandem executable, applied once at start.
public enum ProcessTuning {
    /// glibc's mmap threshold starts at 128 KiB and rises each time a large block is freed, so
    /// the pipeline's chunk-sized buffers migrate onto a heap that fragments and is rarely
    /// trimmed: measured 131 MiB peak RSS backing up the 2 GiB standard image (with in-memory
    /// packs at the time) against 78 MiB with a fixed 8 MiB threshold and trimming past 8 MiB
    /// free, at the same speed. Buffers above 8 MiB (none in the default pipeline) get their
    /// own mappings and go back to the system when freed.
    ///
    /// glibc also gives threads up to eight arenas per core, each keeping what was freed in
    /// it; one arena per core measured 65.5 against 74.5 MiB peak RSS for the tree-v2
    /// re-backup (the parent manifest's decoding is freed into whichever arena decoded it).
    public static func apply() {
        _ = mallopt(M_MMAP_THRESHOLD, 8 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 8 << 20)
        limitArenas()
    }

    private static func limitArenas() {
        _ = mallopt(M_ARENA_MAX, Int32(max(1, ProcessInfo.processInfo.activeProcessorCount)))
    }

    /// The daemon also moves whole packs (16 MiB) through memory: received from the active
    /// site at a twin or the remote, read for shipping at a near site. As their own mappings,
    /// every one was mapped, faulted in page by page and unmapped again; in a VM whose host
    /// takes freed memory back, each fault of a page never touched before is a host fault.
    /// Here they come from the heap and are reused, and up to 64 MiB of free heap is kept.
    public static func applyDaemon() {
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 64 << 20)
        limitArenas()
    }
}
