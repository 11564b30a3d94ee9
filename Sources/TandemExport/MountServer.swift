import Foundation
import Logging
import NIOCore
import TandemCore
import TandemMount

/// Serves a tenant's snapshots to a mount in another process: tandemd holds the repository and
/// the key (a ``TandemMount/MountedRepository``), `tandemctl mount` holds the FUSE session as
/// the user and asks over a Unix socket in ``TandemCore/MountWire`` frames. Requests of one
/// connection are answered as they complete, each by a child task, so a slow chunk fetch never
/// holds up a `stat` behind it. A malformed frame closes that connection only.
public struct MountServer: Sendable {
    let fileSystem: any MountFileSystem
    let logger: Logger
    /// The uids that may connect (`SO_PEERCRED`); nil: whoever may open the socket.
    let allowedUIDs: Set<UInt32>?
    let name: String

    public init(fileSystem: any MountFileSystem, name: String, logger: Logger, allowedUIDs: Set<UInt32>? = nil) {
        self.fileSystem = fileSystem
        self.name = name
        self.logger = logger
        self.allowedUIDs = allowedUIDs
    }

    /// Listens on the Unix socket `path` until cancelled; `onBound` runs once it listens.
    public func serve(at path: String, onBound: @Sendable (NBDAddress) async -> Void = { _ in }) async throws {
        let listener = ExportListener(address: .unix(path), allowedUIDs: allowedUIDs, logger: logger, what: "mount \(name)")
        try await listener.serve(onBound: onBound) { connection in await handle(connection) }
    }

    private func handle(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                try await withThrowingDiscardingTaskGroup { group in
                    var reader = MountWire.FrameReader()
                    for try await buffer in inbound {
                        for body in try reader.receive(buffer.readableBytesView) {
                            let (id, request) = try MountWire.request(body)
                            group.addTask {
                                // A failed write means the client is gone; the reading loop ends on its own.
                                try? await outbound.write(ByteBuffer(bytes: await answer(id, request)))
                            }
                        }
                    }
                }
            }
        } catch {
            logger.warning("a mount connection ended with an error", metadata: ["export": "\(name)", "error": "\(error)"])
        }
    }

    /// The reply frame to one request.
    func answer(_ id: UInt64, _ request: MountWire.Request) async -> [UInt8] {
        func frame<T>(_ result: Result<T, MountTree.Errno>, _ wrap: (T) -> MountWire.Result) -> [UInt8] {
            switch result {
            case .success(let value): MountWire.reply(id: id, wrap(value))
            case .failure(let failure): MountWire.reply(id: id, errno: failure.code)
            }
        }
        switch request {
        case .attributes(let inode): return frame(await fileSystem.attributes(inode), MountWire.Result.attributes)
        case .lookup(let parent, let name): return frame(await fileSystem.lookup(parent, name)) { .entry(inode: $0.0, attributes: $0.1) }
        case .entries(let inode): return frame(await fileSystem.entries(inode), MountWire.Result.entries)
        case .entriesPlus(let inode): return frame(await fileSystem.entriesPlus(inode), MountWire.Result.entriesPlus)
        case .target(let inode): return frame(await fileSystem.target(inode), MountWire.Result.bytes)
        case .open(let inode, let flags): return frame(await fileSystem.open(inode, flags: flags), MountWire.Result.handle)
        case .read(let inode, let handle, let offset, let length):
            guard offset <= UInt64(Int.max) else { return MountWire.reply(id: id, errno: EINVAL) }
            return frame(await fileSystem.read(inode, handle: handle, offset: Int(offset), length: Int(length)), MountWire.Result.bytes)
        case .release(let handle):
            await fileSystem.release(handle)
            return MountWire.reply(id: id)
        case .xattr(let inode, let name): return frame(await fileSystem.xattr(inode, String(decoding: name, as: UTF8.self)), MountWire.Result.bytes)
        case .xattrNames(let inode): return frame(await fileSystem.xattrNames(inode), MountWire.Result.bytes)
        }
    }
}
