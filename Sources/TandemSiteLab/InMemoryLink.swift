import Synchronization
import TandemCore
import TandemSites

/// A link to a peer inside the process, for unit tests of the shipper and the peer client
/// without sockets or TLS: every request and answer still goes through its frame (encoded and
/// decoded), and `answer` plays the peer (a ``RemoteReceiver``, a voter). It counts what was
/// asked, and can cut the link after a number of requests, as a WAN might.
public final class InMemoryLink: LinkDialer {
    public typealias Answer = @Sendable (_ request: LinkRequest, _ body: ArraySlice<UInt8>) async -> (LinkResponse, [UInt8])

    let answer: Answer
    private struct State {
        var asked: [LinkOperation: Int] = [:]
        var calls: [LinkCall] = []
        var cutAfter: Int?
        var connections = 0
    }
    private let state = Mutex(State())

    public init(answer: @escaping Answer) {
        self.answer = answer
    }

    /// How many requests of each operation reached the peer.
    public var asked: [LinkOperation: Int] { state.withLock { $0.asked } }
    /// Every call that reached the peer, in order.
    public var calls: [LinkCall] { state.withLock { $0.calls } }
    public var connections: Int { state.withLock { $0.connections } }

    /// After `requests` more requests, every request fails as if the link were cut (nil: never).
    public func cut(afterRequests requests: Int?) {
        state.withLock { $0.cutAfter = requests }
    }

    public func connect<T: Sendable>(isolation: isolated (any Actor)?, _ body: (any LinkChannel) async throws -> T) async throws -> T {
        state.withLock { $0.connections += 1 }
        return try await body(Channel(link: self))
    }

    /// Takes one request's turn: false once the link is cut.
    fileprivate func admit(_ request: LinkRequest) -> Bool {
        state.withLock { state in
            if let left = state.cutAfter {
                guard left > 0 else { return false }
                state.cutAfter = left - 1
            }
            state.asked[request.operation, default: 0] += 1
            state.calls.append(request.call)
            return true
        }
    }

    /// One connection: answers are computed as requests are submitted, and handed out in order.
    private final class Channel: LinkChannel, @unchecked Sendable {
        // @unchecked: used only inside one `connect` scope by the task that opened it.
        let link: InMemoryLink
        var nextID: UInt64 = 1
        var answers: [(id: UInt64, frame: LinkFrame)] = []

        init(link: InMemoryLink) {
            self.link = link
        }

        func submit(_ request: LinkRequest, body: [UInt8]) async throws -> UInt64 {
            var message = request
            message.id = nextID
            nextID += 1
            let sent = try LinkMessage.request(message).frame(body: body)
            guard case .request(let received) = try LinkMessage.decode(sent), link.admit(received) else {
                throw LinkError.closed("the in-memory link to the peer was cut")
            }
            let (response, bytes) = await link.answer(received, sent.body[...])
            answers.append((message.id, try LinkMessage.response(response).frame(body: bytes)))
            return message.id
        }

        func response(to id: UInt64) async throws -> (response: LinkResponse, body: [UInt8]) {
            guard !answers.isEmpty else { throw LinkError.closed("the in-memory peer has nothing more to answer") }
            let (expected, frame) = answers.removeFirst()
            guard expected == id, case .response(let response) = try LinkMessage.decode(frame), response.id == id else {
                throw LinkError.protocolViolation("the in-memory peer answered request \(id) with something else")
            }
            return (response, Array(frame.body))
        }
    }
}
