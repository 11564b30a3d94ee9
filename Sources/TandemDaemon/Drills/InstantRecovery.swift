import Foundation
import Logging
import TandemCore
import TandemExport
import TandemStore
#if canImport(Glibc)
import Glibc
#endif

/// A drill's instant recovery: the copy served over NBD (as `tandemctl serve` serves it to a
/// hypervisor) from a private socket, and read through that socket once.
enum InstantRecovery {
    /// Seconds from opening the snapshot to the first 4 KiB read answered over NBD, every
    /// chunk of it authenticated; an image snapshot only.
    static func firstVerifiedRead(_ repo: TenantRepository, snapshot id: String, tenant: String, site: String,
                                  logger: Logger) async throws -> Double {
        let began = ContinuousClock.now
        let image: SnapshotImage
        do {
            image = try await SnapshotImage.open(tenant: repo, reference: id)
        } catch RepositoryError.notAnImage {
            throw DaemonError.badRequest("--instant serves image snapshots over NBD; the newest snapshot of \(tenant) at the \(site) site "
                                         + "(\(id.prefix(12))) is a directory tree: drill it without --instant")
        }
        // A directory only this process can enter (mkdtemp: 0700), with a path short enough for a socket.
        var template = Array("/tmp/tandem-drill-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            await image.close()
            throw DaemonError.io("cannot make a private directory for the drill's NBD socket: \(String(cString: strerror(errno)))")
        }
        let directory = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let address = NBDAddress.unix(directory + "/nbd.sock")
        let server = NBDServer(image: image, export: NBDServerMachine.Export(name: String(id.prefix(12)), size: UInt64(image.size),
                                                                             description: "drill of \(tenant) at the \(site) site"),
                               logger: logger)
        do {
            let seconds = try await withThrowingTaskGroup(of: Void.self) { group in
                let (bound, listening) = AsyncStream<Void>.makeStream()
                group.addTask {
                    defer { listening.finish() }
                    try await server.serve(at: address) { _ in listening.yield() }
                }
                var ready = false
                for await _ in bound {
                    ready = true
                    break
                }
                guard ready else {
                    try await group.next()
                    throw DaemonError.io("the drill's NBD server stopped before it listened")
                }
                if image.size > 0 {
                    _ = try await NBDProbe.read(address, offset: 0, length: UInt32(min(4096, image.size)))
                }
                let seconds = (ContinuousClock.now - began) / .seconds(1)
                group.cancelAll()
                return seconds
            }
            await image.close()
            return seconds
        } catch {
            await image.close()
            throw error
        }
    }
}
