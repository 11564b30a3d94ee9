import Foundation
import Testing
@testable import TandemCore

/// MountWire: every request and reply survives its frame, and hostile bytes (generated) are
/// refused with an error, never trapped on or read as something else.
struct MountWireTests {
    static func name(_ random: inout SeededBytes) -> [UInt8] {
        (0..<Int(random.next() % 300)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    static func attributes(_ random: inout SeededBytes) -> MountTree.Attributes {
        let kinds: [MountTree.Kind] = [.directory, .file, .symlink]
        return MountTree.Attributes(kind: kinds[Int(random.next() % 3)], mode: UInt32(truncatingIfNeeded: random.next()),
                                    uid: UInt32(truncatingIfNeeded: random.next()), gid: UInt32(truncatingIfNeeded: random.next()),
                                    size: Int64(random.next() >> 1), mtimeNanoseconds: Int64(bitPattern: random.next()),
                                    links: UInt32(truncatingIfNeeded: random.next()))
    }

    /// One request of each kind, with seeded arguments.
    static func requests(_ random: inout SeededBytes) -> [MountWire.Request] {
        [.attributes(inode: random.next()), .lookup(parent: random.next(), name: name(&random)), .entries(inode: random.next()),
         .target(inode: random.next()), .open(inode: random.next(), flags: Int32(truncatingIfNeeded: random.next())),
         .read(inode: random.next(), handle: random.next(), offset: random.next(), length: UInt32(random.next() % UInt64(MountWire.maximumRead + 1))),
         .release(handle: random.next()), .xattr(inode: random.next(), name: name(&random)), .xattrNames(inode: random.next()),
         .entriesPlus(inode: random.next())]
    }

    /// A result of the shape `request` is answered with.
    static func result(for request: MountWire.Request, _ random: inout SeededBytes) -> MountWire.Result {
        switch request {
        case .attributes: .attributes(attributes(&random))
        case .lookup: .entry(inode: random.next(), attributes: attributes(&random))
        case .entries:
            .entries((0..<Int(random.next() % 40)).map { _ in
                MountWire.Entry(name: name(&random), inode: random.next(), kind: [.directory, .file, .symlink][Int(random.next() % 3)])
            })
        case .entriesPlus:
            .entriesPlus((0..<Int(random.next() % 40)).map { _ in
                MountWire.EntryPlus(name: name(&random), inode: random.next(), attributes: attributes(&random))
            })
        case .target, .read, .xattr, .xattrNames: .bytes(random.bytes(Int(random.next() % 5000)))
        case .open: .handle(random.next())
        case .release: .done
        }
    }

    /// The body of a frame (its length checked and cut off).
    static func body(_ frame: [UInt8]) -> [UInt8] {
        let length = frame.prefix(4).reduce(0) { $0 << 8 | Int($1) }
        #expect(length == frame.count - 4)
        return Array(frame.dropFirst(4))
    }

    @Test func everyRequestAndReplySurvivesItsFrame() throws {
        var random = SeededBytes(seed: 7)
        for round in 0..<200 {
            for request in Self.requests(&random) {
                let id = random.next()
                let decoded = try MountWire.request(Self.body(MountWire.frame(id: id, request)))
                #expect(decoded.id == id && decoded.request == request, "round \(round): \(request)")
                let result = Self.result(for: request, &random)
                let reply = Self.body(MountWire.reply(id: id, result))
                #expect(try MountWire.replyID(reply) == id)
                #expect(try MountWire.reply(reply, to: request) == .success(result), "round \(round): \(request)")
                let errno = Int32(1 + random.next() % 200)
                #expect(try MountWire.reply(Self.body(MountWire.reply(id: id, errno: errno)), to: request) == .failure(MountTree.Errno(errno)))
            }
        }
    }

    /// Every cut of a valid body is refused, and so is a byte past its end.
    @Test func shortAndLongBodiesAreRefused() throws {
        var random = SeededBytes(seed: 8)
        for request in Self.requests(&random) {
            let body = Self.body(MountWire.frame(id: 9, request))
            for cut in 0..<body.count {
                #expect(throws: MountWireError.self) { try MountWire.request(Array(body.prefix(cut))) }
            }
            #expect(throws: MountWireError.self) { try MountWire.request(body + [0]) }
            let reply = Self.body(MountWire.reply(id: 9, Self.result(for: request, &random)))
            for cut in 0..<reply.count {
                #expect(throws: MountWireError.self) { try MountWire.reply(Array(reply.prefix(cut)), to: request) }
            }
            #expect(throws: MountWireError.self) { try MountWire.reply(reply + [1], to: request) }
        }
    }

    @Test func liesAboutSizesAreRefused() throws {
        // A read over the limit, an unknown operation, an entry count past the body, an unknown kind.
        var read = Self.body(MountWire.frame(id: 1, .read(inode: 2, handle: 1, offset: 0, length: 1)))
        read.replaceSubrange(read.count - 4..<read.count, with: [0x01, 0x00, 0x00, 0x01])
        #expect(throws: MountWireError.self) { try MountWire.request(read) }
        var unknown = Self.body(MountWire.frame(id: 1, .attributes(inode: 1)))
        unknown[8] = 200
        #expect(throws: MountWireError.self) { try MountWire.request(unknown) }
        var entries = Self.body(MountWire.reply(id: 1, .entries([])))
        entries.replaceSubrange(12..<16, with: [0xff, 0xff, 0xff, 0xff])
        #expect(throws: MountWireError.self) { try MountWire.reply(entries, to: .entries(inode: 1)) }
        var kind = Self.body(MountWire.reply(id: 1, .attributes(MountTree.Attributes(kind: .file, mode: 0, uid: 0, gid: 0, size: 0,
                                                                                     mtimeNanoseconds: 0, links: 1))))
        kind[12] = 9
        #expect(throws: MountWireError.self) { try MountWire.reply(kind, to: .attributes(inode: 1)) }
        var reader = MountWire.FrameReader()
        #expect(throws: MountWireError.self) { try reader.receive([0x7f, 0xff, 0xff, 0xff]) }
    }

    /// Generated damage to valid frames: every decoder answers a value or an error.
    @Test func damagedFramesNeverTrap() {
        var random = SeededBytes(seed: 9)
        let mutations: [Mutation] = [.overwrite(count: 4, alphabet: []), .overwrite(count: 2, alphabet: [0, 0xff, 1, 3, 9]),
                                     .insert(alphabet: [0, 0xff]), .remove, .truncate, .append]
        for _ in 0..<300 {
            for request in Self.requests(&random) {
                for mutation in mutations {
                    let body = random.mutated(Self.body(MountWire.frame(id: 3, request)), mutation)
                    _ = try? MountWire.request(body)
                    let reply = Self.body(MountWire.reply(id: 3, Self.result(for: request, &random)))
                    _ = try? MountWire.reply(random.mutated(reply, mutation), to: request)
                }
            }
            _ = try? MountWire.request(random.bytes(Int(random.next() % 64)))
        }
    }

    /// Frames split at any byte boundary come out whole and in order.
    @Test func framesSplitAnywhereAreReassembled() throws {
        var random = SeededBytes(seed: 10)
        let requests = (0..<50).flatMap { _ in Self.requests(&random) }
        let stream = requests.enumerated().flatMap { MountWire.frame(id: UInt64($0.offset), $0.element) }
        var reader = MountWire.FrameReader()
        var decoded: [MountWire.Request] = []
        var offset = 0
        while offset < stream.count {
            let piece = 1 + Int(random.next() % 700)
            for body in try reader.receive(stream[offset..<min(offset + piece, stream.count)]) {
                decoded.append(try MountWire.request(body).request)
            }
            offset += piece
        }
        #expect(decoded == requests)
    }
}
