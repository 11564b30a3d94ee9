// libfuse 3 (Debian's libfuse3-dev), its low-level API: `tandemctl mount` answers the kernel's
// requests for a mounted repository. Swift cannot reach the file-info bitfields or build the
// argument vector macro, so these helpers do.
#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <stdlib.h>
#include <string.h>

/// A session for `ops` with the mount options `options` ("-o" list), answering with `userdata`.
static inline struct fuse_session *tandem_fuse_session_new(const char *options, const struct fuse_lowlevel_ops *ops,
                                                           void *userdata) {
    char *argv[] = { (char *)"tandemctl", (char *)"-o", (char *)options, NULL };
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    struct fuse_session *session = fuse_session_new(&args, ops, sizeof(*ops), userdata);
    fuse_opt_free_args(&args);
    return session;
}

/// The open flags of a request's file info (O_RDONLY, O_WRONLY, ...).
static inline int tandem_fuse_flags(const struct fuse_file_info *info) { return info ? info->flags : 0; }

/// The handle a reply to open or opendir set.
static inline uint64_t tandem_fuse_handle(const struct fuse_file_info *info) { return info ? info->fh : 0; }

/// Answers an open with `handle`, the page cache kept across opens (the file never changes).
static inline int tandem_fuse_reply_open(fuse_req_t request, uint64_t handle) {
    struct fuse_file_info info;
    memset(&info, 0, sizeof(info));
    info.fh = handle;
    info.keep_cache = 1;
    return fuse_reply_open(request, &info);
}

/// Settles what the connection does, at init: symlinks cached by the kernel where it can,
/// directory listings with attributes (READDIRPLUS, always, not only when the kernel guesses); and
/// returns 1 when the kernel handles opens itself once open answers ENOSYS (no open or release
/// round trip per file, the page cache kept), 0 when open must answer.
static inline int tandem_fuse_configure(struct fuse_conn_info *conn) {
    if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
    // Every directory listing carries its entries' attributes: no lookup per entry after it.
    if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
    conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
    return (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) ? 1 : 0;
}
