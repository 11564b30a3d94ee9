import Foundation
import Testing
@testable import TandemCore

/// The NBD server machine against well-behaved and hostile clients, without sockets.
@Suite struct NBDServerMachineTests {
    static let export = NBDServerMachine.Export(name: "snap", size: 1 << 20, description: "a test image")

    /// What a client sends.
    enum Client {
        static func be16(_ v: UInt16) -> [UInt8] { NBDServerMachineTests.be16(v) }
        static func be32(_ v: UInt32) -> [UInt8] { NBDServerMachineTests.be32(v) }
        static func be64(_ v: UInt64) -> [UInt8] { NBDServerMachineTests.be64(v) }

        static func flags(_ value: UInt32 = 3) -> [UInt8] { be32(value) }

        static func option(_ code: UInt32, _ data: [UInt8] = []) -> [UInt8] {
            be64(NBDProtocol.optionMagic) + be32(code) + be32(UInt32(data.count)) + data
        }

        static func go(_ name: String = "", info: [UInt16] = [], option: UInt32 = 7) -> [UInt8] {
            Self.option(option, be32(UInt32(name.utf8.count)) + Array(name.utf8) + be16(UInt16(info.count)) + info.flatMap(be16))
        }

        static func metaContext(_ code: UInt32 = 10, name: String = "", queries: [String]) -> [UInt8] {
            option(code, be32(UInt32(name.utf8.count)) + Array(name.utf8) + be32(UInt32(queries.count))
                   + queries.flatMap { be32(UInt32($0.utf8.count)) + Array($0.utf8) })
        }

        static func request(_ type: UInt16, cookie: UInt64, offset: UInt64, length: UInt32, flags: UInt16 = 0) -> [UInt8] {
            be32(NBDProtocol.requestMagic) + be16(flags) + be16(type) + be64(cookie) + be64(offset) + be32(length)
        }
    }

    static func be16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: v.bigEndian, Array.init) }
    static func be32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.bigEndian, Array.init) }
    static func be64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.bigEndian, Array.init) }

    /// The option replies in `actions`: (option, reply type, data).
    static func optionReplies(_ actions: [NBDServerMachine.Action]) -> [(option: UInt32, type: UInt32, data: [UInt8])] {
        actions.compactMap {
            guard case .send(let bytes) = $0, bytes.count >= 20 else { return nil }
            var reader = NBDReader(bytes[...])
            guard reader.u64() == NBDProtocol.optionReplyMagic else { return nil }
            let option = reader.u32()!, type = reader.u32()!, length = Int(reader.u32()!)
            return (option, type, Array(reader.take(length) ?? []))
        }
    }

    /// A machine past negotiation (structured replies and `base:allocation` if asked).
    static func transmitting(structured: Bool) -> NBDServerMachine {
        var machine = NBDServerMachine(export: export, maximumRequest: 1 << 16)
        var input = Client.flags()
        if structured { input += Client.option(8) + Client.metaContext(queries: ["base:allocation"]) }
        _ = machine.receive(input + Client.go())
        return machine
    }

    @Test func aClientNegotiatesStructuredRepliesTheAllocationContextAndGo() {
        var machine = NBDServerMachine(export: Self.export)
        #expect(NBDServerMachine.greeting() == Self.be64(NBDProtocol.greetingMagic) + Self.be64(NBDProtocol.optionMagic) + Self.be16(3))
        let input = Client.flags() + Client.option(8) + Client.metaContext(queries: ["base:allocation", "qemu:dirty-bitmap:x"])
            + Client.go("snap", info: [NBDProtocol.infoBlockSize, NBDProtocol.infoDescription])
        let replies = Self.optionReplies(machine.receive(input))
        #expect(replies.map(\.type) == [1, 4, 1, 3, 3, 3, 1], "\(replies.map(\.type))")
        #expect(replies[1].data == Self.be32(1) + Array("base:allocation".utf8))
        #expect(replies[3].data == Self.be16(0) + Self.be64(1 << 20) + Self.be16(NBDServerMachine.transmissionFlags))
        #expect(replies[4].data.prefix(2) == [0, 3][...])
        #expect(String(decoding: replies[5].data.dropFirst(2), as: UTF8.self) == "a test image")
        #expect(machine.phase == .transmitting && machine.structuredReplies && machine.allocationSelected)
        let read = machine.receive(Client.request(0, cookie: 9, offset: 4096, length: 512))
        #expect(read == [.read(.init(cookie: 9, offset: 4096, length: 512, flags: 0))])
        // A structured read reply: one OFFSET_DATA chunk, marked done.
        let header = machine.readReplyHeader(.init(cookie: 9, offset: 4096, length: 512, flags: 0))
        #expect(header == Self.be32(NBDProtocol.structuredReplyMagic) + Self.be16(1) + Self.be16(1) + Self.be64(9) + Self.be32(520) + Self.be64(4096))
    }

    @Test func unknownOptionsGetUnsupportedAndTheNegotiationGoesOn() {
        var machine = NBDServerMachine(export: Self.export)
        let input = Client.flags() + Client.option(42, [1, 2, 3]) + Client.option(5) + Client.option(11) + Client.option(3) + Client.go()
        let replies = Self.optionReplies(machine.receive(input))
        #expect(replies.map(\.type) == [0x8000_0001, 0x8000_0001, 0x8000_0001, 2, 1, 3, 3, 1], "\(replies.map(\.type))")
        #expect(replies[3].data == Self.be32(4) + Array("snap".utf8))
        #expect(machine.phase == .transmitting)
    }

    @Test func anUnknownExportIsRefusedByGoAndClosedByExportName() {
        var machine = NBDServerMachine(export: Self.export)
        let refused = Self.optionReplies(machine.receive(Client.flags() + Client.go("other")))
        #expect(refused.map(\.type) == [0x8000_0006] && machine.phase == .negotiating)
        var old = NBDServerMachine(export: Self.export)
        #expect(old.receive(Client.flags() + Client.option(1, Array("other".utf8))).last == .close("export 'other' is not served here"))
        var named = NBDServerMachine(export: Self.export)
        let answer = named.receive(Client.flags(1) + Client.option(1, Array("snap".utf8)))
        #expect(answer == [.send(Self.be64(1 << 20) + Self.be16(NBDServerMachine.transmissionFlags) + [UInt8](repeating: 0, count: 124))])
    }

    @Test(arguments: [false, true])
    func badReadsGetEINVALAndTheConnectionStaysUsable(structured: Bool) {
        var machine = Self.transmitting(structured: structured)
        let past = machine.receive(Client.request(0, cookie: 1, offset: (1 << 20) - 10, length: 11))
        let huge = machine.receive(Client.request(0, cookie: 2, offset: 0, length: (1 << 16) + 1))
        let wrapping = machine.receive(Client.request(0, cookie: 3, offset: UInt64.max - 1, length: 4))
        for (answer, cookie) in [(past, UInt64(1)), (huge, 2), (wrapping, 3)] {
            guard case .send(let bytes) = answer.first, answer.count == 1 else {
                Issue.record("expected one error reply, got \(answer)")
                continue
            }
            var reader = NBDReader(bytes[...])
            if structured {
                #expect(reader.u32() == NBDProtocol.structuredReplyMagic && reader.u16() == 1 && reader.u16() == 0x8001)
                #expect(reader.u64() == cookie)
                _ = reader.u32()
                #expect(reader.u32() == 22)
            } else {
                #expect(reader.u32() == NBDProtocol.simpleReplyMagic && reader.u32() == 22 && reader.u64() == cookie && reader.remaining == 0)
            }
        }
        #expect(machine.receive(Client.request(0, cookie: 4, offset: (1 << 20) - 10, length: 10)) == [.read(.init(cookie: 4, offset: (1 << 20) - 10, length: 10, flags: 0))])
    }

    @Test func writesAreRefusedTheirPayloadSkippedEvenWhenSplit() {
        var machine = Self.transmitting(structured: false)
        let write = Client.request(1, cookie: 5, offset: 0, length: 100) + [UInt8](repeating: 0xEE, count: 100)
        let read = Client.request(0, cookie: 6, offset: 0, length: 8)
        var actions: [NBDServerMachine.Action] = []
        let stream = write + read
        for piece in stride(from: 0, to: stream.count, by: 7) { actions += machine.receive(stream[piece..<min(stream.count, piece + 7)]) }
        #expect(actions == [.send(Self.be32(NBDProtocol.simpleReplyMagic) + Self.be32(1) + Self.be64(5)), .read(.init(cookie: 6, offset: 0, length: 8, flags: 0))])
    }

    @Test func blockStatusNeedsTheContextAndHonoursReqOne() {
        var plain = Self.transmitting(structured: false)
        guard case .send(let refused) = plain.receive(Client.request(7, cookie: 1, offset: 0, length: 4096)).first else {
            Issue.record("no reply")
            return
        }
        #expect(refused.dropFirst(4).prefix(4) == Self.be32(22)[...])
        var machine = Self.transmitting(structured: true)
        let request = NBDServerMachine.Request(cookie: 2, offset: 0, length: 4096, flags: NBDProtocol.commandFlagReqOne)
        #expect(machine.receive(Client.request(7, cookie: 2, offset: 0, length: 4096, flags: 8)) == [.blockStatus(request)])
        let reply = machine.blockStatusReply(request, extents: [(65536, 3), (65536, 0)])
        #expect(reply.suffix(12) == (Self.be32(1) + Self.be32(4096) + Self.be32(3))[...])
        // Beyond the end is refused; a length past the end is only a hint.
        #expect(machine.receive(Client.request(7, cookie: 3, offset: 1 << 20, length: 1)).count == 1)
        #expect(machine.receive(Client.request(7, cookie: 4, offset: 0, length: .max)) == [.blockStatus(.init(cookie: 4, offset: 0, length: .max, flags: 0))])
    }

    @Test func malformedHandshakesCloseTheConnection() {
        let cases: [(String, [UInt8])] = [
            ("unknown client flags", Client.flags(4)),
            ("no IHAVEOPT", Client.flags() + Self.be64(0x1234) + Self.be32(7) + Self.be32(0)),
            ("an option too large", Client.flags() + Self.be64(NBDProtocol.optionMagic) + Self.be32(7) + Self.be32(1 << 20)),
            ("a bad request magic", Client.flags() + Client.go() + [UInt8](repeating: 0x41, count: 28)),
        ]
        for (what, input) in cases {
            var machine = NBDServerMachine(export: Self.export)
            guard case .close = machine.receive(input).last else {
                Issue.record("\(what) did not close the connection")
                continue
            }
            #expect(machine.phase == .closed && machine.receive(Client.go()).isEmpty, "\(what)")
        }
    }

    /// Generated streams (plausible messages with random corruptions, and pure noise) fed in
    /// random pieces: the machine never traps, answers the same whatever the split, serves
    /// only reads inside the export and within the limit, and says nothing after closing.
    @Test func generatedStreamsAreSplitInvariantAndNeverReadOutside() {
        var random = SplitMix(state: 7)
        var seeded = SplitMix(state: 19)
        for round in 0..<400 {
            var stream = Client.flags(UInt32(seeded.next() % 4))
            for _ in 0..<(seeded.next() % 12) {
                switch seeded.next() % 7 {
                case 0: stream += Client.option(UInt32(seeded.next() % 14), (0..<(seeded.next() % 40)).map { _ in UInt8(truncatingIfNeeded: seeded.next()) })
                case 1: stream += Client.go(seeded.next() % 3 == 0 ? "snap" : "", info: [UInt16(seeded.next() % 5)])
                case 2: stream += Client.metaContext(UInt32(9 + seeded.next() % 2), queries: ["base:allocation", "base:"].filter { _ in seeded.next() % 2 == 0 })
                case 3: stream += Client.request(UInt16(seeded.next() % 9), cookie: seeded.next(), offset: seeded.next() % (2 << 20),
                                                 length: UInt32(seeded.next() % (1 << 17)), flags: UInt16(seeded.next() % 16))
                case 4: stream += Client.option(8)
                case 5: stream += (0..<(seeded.next() % 64)).map { _ in UInt8(truncatingIfNeeded: seeded.next()) }
                default: stream += Client.request(1, cookie: 1, offset: 0, length: UInt32(seeded.next() % 300)) + [UInt8](repeating: 1, count: Int(seeded.next() % 300))
                }
            }
            if round % 3 == 0, !stream.isEmpty { stream[Int(seeded.next() % UInt64(stream.count))] ^= UInt8(1 << (seeded.next() % 8)) }
            var whole = NBDServerMachine(export: Self.export, maximumRequest: 1 << 16)
            let expected = whole.receive(stream)
            var pieces = NBDServerMachine(export: Self.export, maximumRequest: 1 << 16)
            var actual: [NBDServerMachine.Action] = []
            var at = 0
            while at < stream.count {
                let step = 1 + Int.random(in: 0..<40, using: &random)
                actual += pieces.receive(stream[at..<min(stream.count, at + step)])
                at += step
            }
            #expect(actual == expected, "round \(round): the answer depends on how the bytes were split")
            for (index, action) in expected.enumerated() {
                if case .read(let request) = action {
                    #expect(request.offset + UInt64(request.length) <= Self.export.size && request.length <= 1 << 16, "round \(round)")
                }
                if case .close = action { #expect(index == expected.count - 1, "round \(round): actions after close") }
            }
        }
    }
}
