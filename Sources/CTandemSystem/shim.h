// Linux headers that Glibc's Swift module does not cover.
#include <sys/xattr.h>
#include <malloc.h>
#include <unistd.h>
#include <sys/syscall.h>

/// Starts writeback of a file range without waiting (sync_file_range with
/// SYNC_FILE_RANGE_WRITE), so a final fsync has little left to wait for.
static inline int tandem_start_writeback(int fd, long long offset, long long length) {
    return (int)syscall(SYS_sync_file_range, fd, offset, length, 2);
}
