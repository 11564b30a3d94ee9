import Foundation
import TandemCore
import TandemCodecs
#if canImport(Glibc)
import Glibc
#endif

/// What `dump` writes a tree snapshot as.
public enum DumpFormat: String, Sendable, CaseIterable {
    /// A POSIX pax archive (``TandemCore/PaxTar``).
    case tar
    /// A ZIP archive, ZIP64 where needed (``TandemCore/ZipArchive``).
    case zip
}

extension TenantRepository {
    /// Writes a tree snapshot (or the part below `options.only`) to `fd` as an archive, in the
    /// snapshot's order, without touching the file system: file contents are fetched and
    /// authenticated as a restore does them, and streamed between their headers. Files that
    /// share an inode in the snapshot become hard links to the first (tar) or copies of it
    /// (zip, which has no links). Holds the tenant lock
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
            return try await writeArchive(entries, format: format, to: fd, options: options)
        }
    }

    private func writeArchive(_ entries: [TreeEntry], format: DumpFormat, to fd: Int32,
                              options: RestoreOptions) async throws -> (members: Int, bytes: Int64) {
        // Members in order; a file's bytes follow its opening (the sink's open), its closing after (the sink's close).
        var members: [ArchiveMember] = []
        var firstOfInode: [String: (path: [UInt8], chunks: ChunkList?)] = [:]
        var dataMember: [Int] = []
        var segments: [RestorePlan.Segment] = []
        for entry in entries {
            let path = FileNameBytes.bytes(entry.path)
            var member = ArchiveMember(path: path, kind: .file, mode: entry.mode, uid: entry.uid, gid: entry.gid,
                                       mtimeNanoseconds: entry.mtimeNanoseconds,
                                       xattrs: (entry.xattrs ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, [UInt8]($0.value)) })
            switch entry.type {
            case .directory: member.kind = .directory
            case .symlink:
                member.kind = .symlink
                member.linkTarget = FileNameBytes.bytes(entry.symlinkTarget ?? "")
            case .file:
                let inode = "\(entry.device):\(entry.inode)"
                var chunks = entry.chunks
                if entry.inode != 0, let first = firstOfInode[inode] {
                    if format == .tar {
                        member.kind = .hardLink
                        member.linkTarget = first.path
                        members.append(member)
                        continue
                    }
                    chunks = first.chunks
                } else if entry.inode != 0 {
                    firstOfInode[inode] = (path, entry.chunks)
                }
                member.size = Int64(chunks?.totalLength ?? 0)
                if member.size > 0, let chunks {
                    dataMember.append(members.count)
                    segments.append(RestorePlan.Segment(output: segments.count, list: chunks))
                }
            }
            members.append(member)
        }
        let encoding: any ArchiveEncoding = switch format {
        case .tar: TarEncoding()
        case .zip: ZipEncoding()
        }
        let out = ArchiveStream(fd: fd, members: members, streamed: Set(dataMember), encoding: encoding)
        let planned = try makePlan(segments)
        let sink = OutputSink(sparse: false, open: { output in
            // Every member up to this file, then the file's own opening.
            try out.open(through: dataMember[output])
            return fd
        }, close: { output, _ in
            try out.close(dataMember[output])
        }, observe: out.checksums ? { out.contentWritten($0) } : nil)
        var restoreOptions = options
        restoreOptions.bypassPageCache = false
        try await runRestore(planned, sink: sink, options: restoreOptions)
        try out.finish()
        return (members.count, members.reduce(Int64(0)) { $0 + $1.size })
    }
}

/// How an archive format frames the members around their streamed bytes.
protocol ArchiveEncoding {
    /// Whether each member's bytes are checksummed (CRC-32) as they stream.
    var checksumsContent: Bool { get }
    /// What precedes a member's streamed bytes; for a member with none (`streamed` false:
    /// directories, symlinks, empty files, tar's hard links), the whole member.
    mutating func opening(_ member: ArchiveMember, streamed: Bool) -> [UInt8]
    /// What follows a streamed member's bytes, whose CRC-32 was `crc`.
    mutating func closing(_ member: ArchiveMember, crc: UInt32) -> [UInt8]
    /// The archive's last bytes.
    mutating func ending() -> [UInt8]
}

/// Pax tar: a header before, padding to a block after, two zero blocks at the end.
struct TarEncoding: ArchiveEncoding {
    var checksumsContent: Bool { false }
    func opening(_ member: ArchiveMember, streamed: Bool) -> [UInt8] { PaxTar.header(for: member) }
    func closing(_ member: ArchiveMember, crc: UInt32) -> [UInt8] { [UInt8](repeating: 0, count: PaxTar.padding(after: member.size)) }
    func ending() -> [UInt8] { PaxTar.end }
}

/// ZIP: a local header before, a data descriptor with the CRC-32 after, the central directory at the end.
struct ZipEncoding: ArchiveEncoding {
    private var archive = ZipArchive()
    var checksumsContent: Bool { true }
    mutating func opening(_ member: ArchiveMember, streamed: Bool) -> [UInt8] {
        streamed ? archive.localHeader(for: member) : archive.wholeMember(member)
    }
    mutating func closing(_ member: ArchiveMember, crc: UInt32) -> [UInt8] { archive.descriptor(crc: crc) }
    mutating func ending() -> [UInt8] { archive.end() }
}

/// The archive's byte stream: openings and closings written between the file contents that
/// the restore sink writes to the same descriptor. Used only from the sink's calls, which
/// the restore serialises, and then from the dump's own task.
final class ArchiveStream: @unchecked Sendable {
    let fd: Int32
    private let members: [ArchiveMember]
    private let streamed: Set<Int>
    private var encoding: any ArchiveEncoding
    private var nextMember = 0
    private var checksum = CRC32()
    let checksums: Bool

    init(fd: Int32, members: [ArchiveMember], streamed: Set<Int>, encoding: any ArchiveEncoding) {
        self.fd = fd
        self.members = members
        self.streamed = streamed
        self.encoding = encoding
        checksums = encoding.checksumsContent
    }

    /// Every member not written yet up to `last` (whole: they have no bytes of their own),
    /// then `last`'s opening if its bytes stream next.
    func open(through last: Int) throws {
        guard nextMember <= last else { return }
        var block: [UInt8] = []
        for index in nextMember...last {
            block += encoding.opening(members[index], streamed: streamed.contains(index))
        }
        nextMember = last + 1
        checksum = CRC32()
        try write(block)
    }

    /// Counts streamed bytes into the open member's checksum.
    func contentWritten(_ bytes: UnsafeRawBufferPointer) { checksum.update(bytes) }

    /// Ends the streamed member `index`.
    func close(_ index: Int) throws { try write(encoding.closing(members[index], crc: checksum.value)) }

    /// The members after the last streamed one, and the archive's end.
    func finish() throws {
        try open(through: members.count - 1)
        try write(encoding.ending())
    }

    private func write(_ bytes: [UInt8]) throws { try DescriptorWriter.writeAll(fd, bytes, what: "the archive") }
}
