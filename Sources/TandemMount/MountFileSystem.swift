import TandemCore

/// What a FUSE mount asks of the file system behind it, each answer a value or an errno:
/// a ``MountedRepository`` in this process (offline, `--repo`), or a ``RemoteFileSystem`` that
/// asks tandemd over a socket (the repository and the key stay in the daemon).
public protocol MountFileSystem: AnyObject, Sendable {
    /// A node's attributes.
    func attributes(_ inode: UInt64) async -> Result<MountTree.Attributes, MountTree.Errno>
    /// `name` in the directory `parent`: its inode and attributes.
    func lookup(_ parent: UInt64, _ name: [UInt8]) async -> Result<(UInt64, MountTree.Attributes), MountTree.Errno>
    /// A directory's entries, `.` and `..` first.
    func entries(_ inode: UInt64) async -> Result<[MountWire.Entry], MountTree.Errno>
    /// A directory's entries with their attributes, `.` and `..` first: what the kernel's
    /// READDIRPLUS asks, so that listing a directory needs no lookup per entry afterwards.
    func entriesPlus(_ inode: UInt64) async -> Result<[MountWire.EntryPlus], MountTree.Errno>
    /// Where a symlink points.
    func target(_ inode: UInt64) async -> Result<[UInt8], MountTree.Errno>
    /// Opens a file for reading: its handle; writing is refused (EROFS).
    func open(_ inode: UInt64, flags: Int32) async -> Result<UInt64, MountTree.Errno>
    /// Up to `length` bytes at `offset` of file `inode` (fewer at its end), through `handle`
    /// from ``open(_:flags:)``, or by the inode alone when `handle` is 0 (the kernel opened it
    /// itself); damaged data is EIO.
    func read(_ inode: UInt64, handle: UInt64, offset: Int, length: Int) async -> Result<[UInt8], MountTree.Errno>
    /// Forgets an open file.
    func release(_ handle: UInt64) async
    /// The value of extended attribute `name`.
    func xattr(_ inode: UInt64, _ name: String) async -> Result<[UInt8], MountTree.Errno>
    /// The names of a node's extended attributes, each ended by a NUL byte.
    func xattrNames(_ inode: UInt64) async -> Result<[UInt8], MountTree.Errno>
}
