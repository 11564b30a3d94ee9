import TandemCore

extension LinkResponse {
    /// The answer to `request`: a refusal throws ``LinkError/remote(_:)`` with the peer's
    /// reason, and an answer the operation cannot get throws ``LinkError/protocolViolation(_:)``.
    public func answer(to request: LinkRequest) throws(LinkError) -> LinkAnswer {
        if case .refused(let reason) = answer { throw .remote("\(request.operation.rawValue): \(reason)") }
        guard answer.answers(request.operation) else {
            throw .protocolViolation("the peer answered \(request.operation.rawValue) with \(answer.kind)")
        }
        return answer
    }
}

extension LinkChannel {
    /// Sends a request that changes something at the peer and waits until it is done.
    public func perform(_ request: LinkRequest, body: [UInt8] = []) async throws {
        try await ask(request, body: body) { if case .done = $0 { () } else { nil } }
    }

    /// `lack`: which of `packs` the peer does not hold. A peer that names a pack it was not
    /// asked about is a protocol violation: nothing outside the question may be sent on its word.
    public func missing(_ packs: [String], tenant: String) async throws -> [String] {
        let missing = try await ask(LinkRequest(.lack(packs: packs), tenant: tenant)) { if case .missing(let m) = $0 { m } else { nil } }
        guard Set(missing).isSubset(of: packs) else {
            throw LinkError.protocolViolation("the peer answered a lack query with packs it was not asked about")
        }
        return missing
    }

    /// `completed`: the snapshots complete at the peer.
    public func completed(tenant: String) async throws -> CompletedSnapshots {
        try await ask(LinkRequest(.completed, tenant: tenant)) { if case .completed(let c) = $0 { c } else { nil } }
    }

    /// `list_packs`, or `drop_packs` (the packs the peer kept): the answer's pack names.
    public func packs(_ request: LinkRequest) async throws -> [String] {
        try await ask(request) { if case .packs(let names) = $0 { names } else { nil } }
    }

    /// `get_pack` or `get_object`: the response's body.
    public func fetch(_ request: LinkRequest) async throws -> [UInt8] {
        let (response, body) = try await exchange(request)
        _ = try response.answer(to: request)
        return body
    }

    private func ask<T>(_ request: LinkRequest, body: [UInt8] = [], _ payload: (LinkAnswer) -> T?) async throws -> T {
        let answer = try await self.request(request, body: body).answer(to: request)
        guard let value = payload(answer) else {
            throw LinkError.protocolViolation("the peer answered \(request.operation.rawValue) with \(answer.kind)")
        }
        return value
    }
}
