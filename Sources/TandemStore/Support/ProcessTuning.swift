import CTandemSystem
#if canImport(Glibc)
import Glibc
#endif

/// Process-wide settings for a Tandem executable, applied once at start.
public enum ProcessTuning {
    /// glibc serves allocations above a dynamic threshold (128 KiB at first) with fresh mmap
    /// pages and returns them on free, so every chunk-sized buffer of the pipeline costs page
    /// faults and munmaps: measured as ~1.5 s of system time per GiB backed up. Serving buffers
    /// up to 32 MiB from the heap and trimming it only past 64 MiB free halves that; the
    /// pipeline's memory is bounded anyway (see the concurrency article).
    public static func apply() {
        #if canImport(Glibc)
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 64 << 20)
        #endif
    }
}
