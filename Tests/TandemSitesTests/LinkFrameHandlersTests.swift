import NIOCore
import NIOEmbedded
import Testing
import TandemCore
@testable import TandemSites

/// The link's frame handlers. In: frames come out whole and equal however the bytes are cut, a
/// large request's body starts at a page boundary (so a twin writes it around the page cache
/// from where it lies), and bytes that cannot be a frame close the connection. Out: a large
/// body goes out in bounded buffers.
@Suite struct LinkFrameHandlersTests {
    /// xorshift64*, so a failure replays.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
    }

    func frames() throws -> [LinkFrame] {
        func bytes(_ count: Int, _ salt: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ salt &+ $0 >> 11) } }
        let request = LinkRequest(.putPack(name: String(repeating: "ab", count: 32)), tenant: "alpha", epoch: 3, id: 1)
        return [
            try LinkMessage.heartbeat(LinkHeartbeat(site: "home-a", sequence: 7)).frame(),
            try LinkMessage.request(request).frame(body: bytes(3 << 20, 1)),
            try LinkMessage.response(LinkResponse(id: 1, .done)).frame(body: bytes(2 << 20, 2)),
            try LinkMessage.request(request).frame(body: bytes(5000, 3)),
            try LinkMessage.request(request).frame(body: bytes((1 << 20) + 1, 4)),
            try LinkMessage.response(LinkResponse.refused(id: 2, "no")).frame(),
        ]
    }

    func received(cutting stream: [UInt8], _ rng: inout Seeded, largest: Int) throws -> [LinkFrame] {
        let channel = EmbeddedChannel(handler: LinkFrameInboundHandler())
        var offset = 0
        while offset < stream.count {
            let count = min(Int.random(in: 1...largest, using: &rng), stream.count - offset)
            try channel.writeInbound(ByteBuffer(bytes: stream[offset..<offset + count]))
            offset += count
        }
        var out: [LinkFrame] = []
        while let frame = try channel.readInbound(as: LinkFrame.self) { out.append(frame) }
        _ = try channel.finish()
        return out
    }

    @Test func framesComeOutWholeHoweverTheBytesAreCut() throws {
        let all = try frames()
        var rng = Seeded(state: 0x5eed_1234)
        // Tiny pieces on the frames without large bodies, larger ones on all of them.
        for (sent, largest) in [(all.filter { $0.body.count < 10_000 }, 7), (all, 1000), (all, 70_000), (all, 1 << 20), (all, 64 << 20)] {
            let stream = sent.flatMap { $0.encoded() }
            let got = try received(cutting: stream, &rng, largest: largest)
            #expect(got == sent, "pieces of up to \(largest) bytes")
            for frame in got where frame.kind == .request && frame.body.count >= LinkFrameInboundHandler.alignedFrom {
                frame.body.withUnsafeBytes { #expect(Int(bitPattern: $0.baseAddress!) % 4096 == 0) }
            }
            // A response's body fills its own array, so taking it as an array copies nothing.
            if let response = got.first(where: { $0.kind == .response && !$0.body.isEmpty }) {
                #expect(response.body.startIndex == 0)
            }
        }
    }

    @Test func bytesThatCannotBeAFrameCloseTheConnection() throws {
        for garbage: [UInt8] in [Array("GET / HTTP/1.1\r\n\r\n".utf8), LinkFrame.prefix(kind: .request, headerLength: 1 << 20, bodyLength: 0),
                                 LinkFrame.prefix(kind: .request, headerLength: 2, bodyLength: LinkFrame.maximumBody + 1)] {
            let channel = EmbeddedChannel(handler: LinkFrameInboundHandler())
            #expect(throws: LinkFrameError.self) { try channel.writeInbound(ByteBuffer(bytes: garbage)) }
            #expect(!channel.isActive)
            #expect(try channel.readInbound(as: LinkFrame.self) == nil)
        }
    }

    @Test func aLargeBodyGoesOutInBoundedBuffers() throws {
        let channel = EmbeddedChannel(handler: LinkFrameOutboundHandler())
        let body = Array((0..<(2 << 20) + 5).map { UInt8(truncatingIfNeeded: $0 &* 7) })[3...]
        let request = LinkRequest(.putPack(name: String(repeating: "cd", count: 32)), tenant: "alpha", id: 4)
        let big = LinkFrame(kind: .request, header: try LinkMessage.request(request).frame().header, body: body)
        try channel.writeOutbound(big)
        try channel.writeOutbound(try LinkMessage.response(LinkResponse(id: 4, .done)).frame())
        var wire: [UInt8] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            #expect(buffer.readableBytes <= LinkFrameOutboundHandler.slice + LinkFrame.headerSize + LinkFrame.maximumHeader)
            wire += buffer.readBytes(length: buffer.readableBytes)!
        }
        _ = try channel.finish()
        var decoder = LinkFrameDecoder()
        decoder.feed(wire)
        #expect(try decoder.next() == big)
        #expect(try decoder.next() == (try LinkMessage.response(LinkResponse(id: 4, .done)).frame()))
        #expect(try decoder.next() == nil)
    }
}
