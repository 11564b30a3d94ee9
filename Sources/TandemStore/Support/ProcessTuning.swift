import CTandemSystem

/// Process-wide settings for a Tandem executable, applied once at start.
public enum ProcessTuning {
    /// glibc's mmap threshold starts at 128 KiB and rises each time a large block is freed, so
    /// the pipeline's chunk-sized buffers migrate onto a heap that fragments and is rarely
    /// trimmed: measured 131 MiB peak RSS backing up the 2 GiB standard image. A fixed 8 MiB
    /// threshold (pack buffers get their own mappings and go back to the system when a pack is
    /// written) with trimming past 8 MiB free measured 78 MiB, at the same speed.
    public static func apply() {
        _ = mallopt(M_MMAP_THRESHOLD, 8 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 8 << 20)
    }
}
