import Foundation
import NIOCore
import NIOPosix
import TandemCore
#if canImport(Glibc)
import Glibc
#endif

/// The file system tandemd serves for a mount (``TandemCore/MountWire`` over its Unix socket):
/// what `tandemctl mount` without `--repo` hands its FUSE session, so the repository and the
/// key never leave the daemon. Calls are numbered and many may be in flight; each waits for
/// its own reply. Once the connection ends, every call waiting and every later one gets EIO.
public actor RemoteFileSystem: MountFileSystem {
    private typealias Waiting = (request: MountWire.Request, reply: CheckedContinuation<Result<MountWire.Result, MountTree.Errno>, Never>)

    private let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    private let frames: AsyncStream<[UInt8]>
    private let outgoing: AsyncStream<[UInt8]>.Continuation
    private var waiting: [UInt64: Waiting] = [:]
    private var nextID: UInt64 = 1
    private var ended = false

    /// Connects to the export socket at `path`.
    public static func connect(_ path: String) async throws -> RemoteFileSystem {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(unixDomainSocketPath: path) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        return RemoteFileSystem(channel: channel)
    }

    private init(channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>) {
        self.channel = channel
        (frames, outgoing) = AsyncStream<[UInt8]>.makeStream()
    }

    /// Carries requests out and replies in until tandemd closes the connection (or this task
    /// is cancelled); returns why it ended.
    public func run() async -> String {
        var why = "tandemd closed the connection"
        let frames = frames
        do {
            try await channel.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await frame in frames { try await outbound.write(ByteBuffer(bytes: frame)) }
                    }
                    var reader = MountWire.FrameReader()
                    for try await buffer in inbound {
                        for body in try reader.receive(buffer.readableBytesView) { try deliver(body) }
                    }
                    group.cancelAll()
                }
            }
        } catch is CancellationError {
            why = "stopped"
        } catch {
            why = "\(error)"
        }
        end()
        return why
    }

    private func deliver(_ body: [UInt8]) throws {
        let id = try MountWire.replyID(body)
        guard let call = waiting.removeValue(forKey: id) else { throw MountWireError.malformed("a reply to request \(id), which nobody waits for") }
        do {
            call.reply.resume(returning: try MountWire.reply(body, to: call.request))
        } catch {
            call.reply.resume(returning: .failure(MountTree.Errno(EIO)))
            throw error
        }
    }

    private func end() {
        ended = true
        outgoing.finish()
        for call in waiting.values { call.reply.resume(returning: .failure(MountTree.Errno(EIO))) }
        waiting = [:]
    }

    private func call(_ request: MountWire.Request) async -> Result<MountWire.Result, MountTree.Errno> {
        guard !ended else { return .failure(MountTree.Errno(EIO)) }
        let id = nextID
        nextID += 1
        return await withCheckedContinuation { reply in
            waiting[id] = (request, reply)
            outgoing.yield(MountWire.frame(id: id, request))
        }
    }

    /// The value a reply of the expected shape carries; EIO for any other shape.
    private func expect<T>(_ request: MountWire.Request, _ shape: (MountWire.Result) -> T?) async -> Result<T, MountTree.Errno> {
        switch await call(request) {
        case .success(let result): shape(result).map { .success($0) } ?? .failure(MountTree.Errno(EIO))
        case .failure(let failure): .failure(failure)
        }
    }

    private static func bytes(_ result: MountWire.Result) -> [UInt8]? {
        if case .bytes(let bytes) = result { bytes } else { nil }
    }

    public func attributes(_ inode: UInt64) async -> Result<MountTree.Attributes, MountTree.Errno> {
        await expect(.attributes(inode: inode)) { if case .attributes(let a) = $0 { a } else { nil } }
    }

    public func lookup(_ parent: UInt64, _ name: [UInt8]) async -> Result<(UInt64, MountTree.Attributes), MountTree.Errno> {
        await expect(.lookup(parent: parent, name: name)) { if case .entry(let inode, let a) = $0 { (inode, a) } else { nil } }
    }

    public func entries(_ inode: UInt64) async -> Result<[MountWire.Entry], MountTree.Errno> {
        await expect(.entries(inode: inode)) { if case .entries(let entries) = $0 { entries } else { nil } }
    }

    public func entriesPlus(_ inode: UInt64) async -> Result<[MountWire.EntryPlus], MountTree.Errno> {
        await expect(.entriesPlus(inode: inode)) { if case .entriesPlus(let entries) = $0 { entries } else { nil } }
    }

    public func target(_ inode: UInt64) async -> Result<[UInt8], MountTree.Errno> {
        await expect(.target(inode: inode), Self.bytes)
    }

    public func open(_ inode: UInt64, flags: Int32) async -> Result<UInt64, MountTree.Errno> {
        await expect(.open(inode: inode, flags: flags)) { if case .handle(let handle) = $0 { handle } else { nil } }
    }

    public func read(_ inode: UInt64, handle: UInt64, offset: Int, length: Int) async -> Result<[UInt8], MountTree.Errno> {
        guard offset >= 0, length >= 0 else { return .failure(MountTree.Errno(EINVAL)) }
        return await expect(.read(inode: inode, handle: handle, offset: UInt64(offset), length: UInt32(min(length, Int(MountWire.maximumRead)))),
                            Self.bytes)
    }

    public func release(_ handle: UInt64) async {
        _ = await call(.release(handle: handle))
    }

    public func xattr(_ inode: UInt64, _ name: String) async -> Result<[UInt8], MountTree.Errno> {
        await expect(.xattr(inode: inode, name: Array(name.utf8)), Self.bytes)
    }

    public func xattrNames(_ inode: UInt64) async -> Result<[UInt8], MountTree.Errno> {
        await expect(.xattrNames(inode: inode), Self.bytes)
    }
}
