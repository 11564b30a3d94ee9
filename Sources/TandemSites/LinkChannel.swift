import TandemCore

/// One connection to a peer, as the shipper, the pack stream and a ``PeerClient`` use it:
/// requests answered in order, a bounded window of them in flight. ``LinkConnection`` is the
/// real one (TLS over TCP); TandemSiteLab's in-memory link answers inside the process, for tests.
public protocol LinkChannel: AnyObject, Sendable {
    /// Sends a request without waiting for its answer; returns its ID for ``response(to:)``.
    func submit(_ request: LinkRequest, body: [UInt8]) async throws -> UInt64
    /// Waits for the answer to the oldest request still in flight, which must be `id`.
    func response(to id: UInt64) async throws -> (response: LinkResponse, body: [UInt8])
}

extension LinkChannel {
    /// Sends a request (and its body) and waits for its response.
    public func request(_ request: LinkRequest, body: [UInt8] = []) async throws -> LinkResponse {
        try await exchange(request, body: body).response
    }

    /// Sends a request and returns its response with the response frame's body.
    public func exchange(_ request: LinkRequest, body: [UInt8] = []) async throws -> (response: LinkResponse, body: [UInt8]) {
        try await response(to: submit(request, body: body))
    }
}

/// Opens connections to one peer, each for the length of one `body`.
public protocol LinkDialer: Sendable {
    func connect<T: Sendable>(isolation: isolated (any Actor)?, _ body: (any LinkChannel) async throws -> T) async throws -> T
}

extension LinkDialer {
    /// Connects, runs `body` on the caller's actor, and closes the connection.
    public func with<T: Sendable>(isolation: isolated (any Actor)? = #isolation,
                                  _ body: (any LinkChannel) async throws -> T) async throws -> T {
        try await connect(isolation: isolation, body)
    }
}

/// The real link: TLS over TCP to the peer's address, hello first (``LinkConnection``).
public struct TLSLinkDialer: LinkDialer {
    public let host: String
    public let port: Int
    public let peer: String
    public let tls: LinkTLS
    public let hello: LinkHello

    public init(host: String, port: Int, peer: String, tls: LinkTLS, hello: LinkHello) {
        self.host = host
        self.port = port
        self.peer = peer
        self.tls = tls
        self.hello = hello
    }

    public func connect<T: Sendable>(isolation: isolated (any Actor)?, _ body: (any LinkChannel) async throws -> T) async throws -> T {
        try await LinkConnection.with(host: host, port: port, peer: peer, tls: tls, hello: hello, isolation: isolation) { try await body($0) }
    }
}
