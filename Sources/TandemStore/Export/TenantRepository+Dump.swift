import Foundation
import TandemCore
#if canImport(Glibc)
import Glibc
#endif

/// What `dump` writes a tree snapshot as.
public enum DumpFormat: String, Sendable, CaseIterable {
    /// A POSIX pax archive (``TandemCore/PaxTar``).
    case tar
}

extension TenantRepository {
    /// Writes a tree snapshot (or the part below `options.only`) to `fd` as an archive, in the
    /// snapshot's order, without touching the file system: file contents are fetched and
    /// authenticated as a restore does them, and streamed between their headers. Files that
    /// share an inode in the snapshot become hard links to the first. Holds the tenant lock
    /// shared. Returns the members written and the content bytes.
    public func dump(_ reference: String, format: DumpFormat, to fd: Int32, options: RestoreOptions) async throws -> (members: Int, bytes: Int64) {
        try await holdingLock(exclusive: false, waiting: options.lockWait) {
            _ = try await reconcile()
            let id = try await resolveSnapshot(reference)
            let manifest = try await loadManifest(id)
            guard manifest.kind == .tree else { throw RepositoryError.notATree(id) }
            var entries = manifest.tree ?? []
            if let problem = TreeLayout.firstProblem(entries) {
                throw RepositoryError.damaged("the snapshot's tree is unsafe to dump: \(problem)")
            }
            if let only = options.only?.trimmingCharacters(in: CharacterSet(charactersIn: "/")), !only.isEmpty {
                entries = entries.filter { $0.path == only || $0.path.hasPrefix(only + "/") }
                guard !entries.isEmpty else { throw RepositoryError.snapshotNotFound("path \(only)") }
            }
            entries.removeAll { $0.path.isEmpty }
            return try await writeArchive(entries, to: fd, options: options)
        }
    }

    private func writeArchive(_ entries: [TreeEntry], to fd: Int32, options: RestoreOptions) async throws -> (members: Int, bytes: Int64) {
        // Members in order; a file's bytes follow its header (the sink's open), padding after (its close).
        var members: [PaxTar.Member] = []
        var firstOfInode: [String: [UInt8]] = [:]
        var dataMember: [Int] = []
        var segments: [RestorePlan.Segment] = []
        for entry in entries {
            let path = FileNameBytes.bytes(entry.path)
            var member = PaxTar.Member(path: path, kind: .file, mode: entry.mode, uid: entry.uid, gid: entry.gid,
                                       mtimeNanoseconds: entry.mtimeNanoseconds,
                                       xattrs: (entry.xattrs ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, [UInt8]($0.value)) })
            switch entry.type {
            case .directory: member.kind = .directory
            case .symlink:
                member.kind = .symlink
                member.linkTarget = FileNameBytes.bytes(entry.symlinkTarget ?? "")
            case .file:
                let inode = "\(entry.device):\(entry.inode)"
                if entry.inode != 0, let first = firstOfInode[inode] {
                    member.kind = .hardLink
                    member.linkTarget = first
                } else {
                    if entry.inode != 0 { firstOfInode[inode] = path }
                    member.size = Int64(entry.chunks?.totalLength ?? 0)
                    if member.size > 0, let chunks = entry.chunks {
                        dataMember.append(members.count)
                        segments.append(RestorePlan.Segment(output: segments.count, list: chunks))
                    }
                }
            }
            members.append(member)
        }
        let out = ArchiveStream(fd: fd)
        let planned = try makePlan(segments)
        let sink = OutputSink(sparse: false, open: { output in
            // Every member up to this file, then the file's own header.
            try out.writeHeaders(members, through: dataMember[output])
            return fd
        }, close: { output, _ in
            try out.write([UInt8](repeating: 0, count: PaxTar.padding(after: members[dataMember[output]].size)))
        })
        var restoreOptions = options
        restoreOptions.bypassPageCache = false
        try await runRestore(planned, sink: sink, options: restoreOptions)
        try out.writeHeaders(members, through: members.count - 1)
        try out.write(PaxTar.end)
        return (members.count, members.reduce(Int64(0)) { $0 + $1.size })
    }
}

/// The archive's byte stream: headers and padding written between the file contents that
/// the restore sink writes to the same descriptor. Used only from the sink's calls, which
/// the restore serialises, and then from the dump's own task.
final class ArchiveStream: @unchecked Sendable {
    let fd: Int32
    private var nextHeader = 0

    init(fd: Int32) { self.fd = fd }

    /// The headers of every member not written yet, up to `last`; files among them before
    /// `last` have no bytes (empty files, hard links).
    func writeHeaders(_ members: [PaxTar.Member], through last: Int) throws {
        guard nextHeader <= last else { return }
        var block: [UInt8] = []
        for index in nextHeader...last {
            block += PaxTar.header(for: members[index])
        }
        nextHeader = last + 1
        try write(block)
    }

    func write(_ bytes: [UInt8]) throws { try DescriptorWriter.writeAll(fd, bytes, what: "the archive") }
}
