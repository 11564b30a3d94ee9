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

#include <fcntl.h>
#include <stdint.h>

/// The kernel's `struct ucred` for SO_PEERCRED (glibc declares it only under _GNU_SOURCE,
/// which Swift's Glibc module does not set): same layout, pid then uid then gid.
struct tandem_peer_credentials {
    int32_t pid;
    uint32_t uid;
    uint32_t gid;
};

/// pipe2(fds, O_CLOEXEC) without _GNU_SOURCE: both ends close on exec, so a child started by
/// another task never inherits a pipe it should not hold open.
static inline int tandem_pipe_cloexec(int fds[2]) {
    return (int)syscall(SYS_pipe2, fds, O_CLOEXEC);
}

/// O_DIRECT, which glibc names only under _GNU_SOURCE (its internal name is always there).
static inline int tandem_o_direct(void) {
    return __O_DIRECT;
}
