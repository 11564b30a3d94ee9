import ArgumentParser
import Foundation
import TandemCore
import TandemStore

/// `tandemctl dump --repo DIR --tenant T SNAPSHOT [--path P] [--format tar|zip|raw|qcow2] [--output FILE]`:
/// a tree snapshot as a standard archive, or an image as raw or qcow2, to stdout or a file,
/// without restoring it first.
struct Dump: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a tree snapshot as a pax tar or zip archive, or an image as raw or sparse qcow2, to stdout or --output (offline, --repo).",
        discussion: """
            Long and non-UTF-8 names, symlinks, hard links, owners, modes, nanosecond mtimes and xattrs (SCHILY.xattr) are kept;
            GNU tar (--xattrs), bsdtar and Python's tarfile read it. Every chunk is authenticated as a restore's is.
            --format zip: stored members with CRC-32s, ZIP64 past 4 GiB, modes, owners (ux) and mtimes (UT); hard links
            become copies and xattrs are left out (ZIP has neither). Python's zipfile, unzip and bsdtar read it.
            An image snapshot: --format raw (its bytes) or qcow2 (v3, zero chunks left unallocated; qemu-img check clean).
            """)

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var tenant: TenantOptions
    @Argument(help: "Snapshot ID, ID prefix or 'latest'.") var snapshot: String
    @Option(help: "Only this path of the snapshot (and what is below it).") var path: String?
    @Option(help: "tar or zip (a tree snapshot); raw or qcow2 (an image snapshot).") var format = "tar"
    @Option(help: ArgumentHelp("Write the archive here (created; an existing file is refused) instead of stdout.", valueName: "FILE"))
    var output: String?

    static let formats = DumpFormat.allCases.map(\.rawValue) + SnapshotImage.ImageFormat.allCases.map(\.rawValue)

    func validate() throws {
        guard Self.formats.contains(format) else {
            throw ValidationError("--format must be \(Self.formats.joined(separator: ", ")), not '\(format)'")
        }
    }

    /// Writes the archive or image to `fd`; returns a summary for the log line.
    func write(_ repo: TenantRepository, to fd: Int32) async throws -> String {
        if let archive = DumpFormat(rawValue: format) {
            var options = RestoreOptions()
            options.only = path
            let written = try await repo.dump(snapshot, format: archive, to: fd, options: options)
            return "\(written.members) member(s), \(Human.bytes(written.bytes)) of file data"
        }
        guard path == nil else { throw ValidationError("--path applies to tree snapshots (tar), not to --format \(format)") }
        let image = try await SnapshotImage.open(tenant: repo, reference: snapshot)
        do {
            let bytes = try await image.write(as: SnapshotImage.ImageFormat(rawValue: format)!, to: fd)
            await image.close()
            return "a \(Human.bytes(Int64(image.size))) image as \(Human.bytes(bytes)) of \(format)"
        } catch {
            await image.close()
            throw error
        }
    }

    func run() async throws {
        try await Failure.guarded {
            let repo = try await tenant.open(repository)
            guard let output else {
                guard isatty(1) == 0 else {
                    throw ValidationError("refusing to write an archive to a terminal: redirect stdout or give --output FILE")
                }
                _ = try await write(repo, to: 1)
                return
            }
            // Written beside the target and renamed into place when whole.
            let partial = output + ".tandem-partial"
            let fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw RepositoryError.targetUnwritable(output, String(cString: strerror(errno))) }
            do {
                defer { close(fd) }
                guard !FileManager.default.fileExists(atPath: output) else { throw RepositoryError.targetExists(output) }
                let summary = try await write(repo, to: fd)
                guard fsync(fd) == 0 else { throw RepositoryError.targetUnwritable(output, String(cString: strerror(errno))) }
                FileHandle.standardError.write(Data("dumped \(summary) to \(output)\n".utf8))
            } catch {
                unlink(partial)
                throw error
            }
            guard rename(partial, output) == 0 else {
                let failure = RepositoryError.targetUnwritable(output, String(cString: strerror(errno)))
                unlink(partial)
                throw failure
            }
        }
    }
}
