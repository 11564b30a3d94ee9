import Foundation

/// A response frame's header as it travels: one flat JSON object (snake_case), `ok`, and the
/// field of the answer's payload (`error` for a refusal). This is the only place that maps
/// ``LinkAnswer`` to and from it; the fields are those peers have always sent.
struct LinkResponseWire: Codable {
    var id: UInt64
    var ok: Bool
    var error: String?
    var missing: [String]?
    var completed: [String: Date]?
    var packs: [String]?
    var lease: LeaseWireReply?
    var verdict: WitnessWireVerdict?
    var epoch: UInt64?

    /// Most names a `missing`, `completed` or `packs` answer may carry.
    static let maximumNames = LinkRequestWire.maximumNames

    init(_ response: LinkResponse) {
        id = response.id
        ok = response.ok
        switch response.answer {
        case .refused(let reason): error = reason
        case .done: break
        case .missing(let names): missing = names
        case .completed(let snapshots):
            completed = snapshots.times
            packs = snapshots.newestPacks
        case .packs(let names): packs = names
        case .lease(let reply): lease = reply
        case .verdict(let verdict): self.verdict = verdict
        case .handedOver(let epoch): self.epoch = epoch
        }
    }

    /// The response these fields make, or why they make none: a refusal without its reason,
    /// two payloads at once, or names that are not hashes.
    func response() throws(LinkFrameError) -> LinkResponse {
        guard ok else {
            guard let error else { throw .malformedMessage("a refusal needs error") }
            return .refused(id: id, String(error.prefix(4096)))
        }
        guard error == nil else { throw .malformedMessage("an accepted answer carries no error") }
        for name in (missing ?? []) + (packs ?? []) + (completed.map { Array($0.keys) } ?? []) where !LinkNames.isHash(name) {
            throw .malformedMessage("bad pack or snapshot name")
        }
        guard (missing?.count ?? 0) <= Self.maximumNames, (packs?.count ?? 0) <= Self.maximumNames,
              (completed?.count ?? 0) <= Self.maximumNames else { throw .malformedMessage("too many names") }
        var answers: [LinkAnswer] = []
        if let missing { answers.append(.missing(missing)) }
        if let completed { answers.append(.completed(CompletedSnapshots(times: completed, newestPacks: packs))) }
        if let packs, completed == nil { answers.append(.packs(packs)) }
        if let lease { answers.append(.lease(lease)) }
        if let verdict { answers.append(.verdict(verdict)) }
        if let epoch { answers.append(.handedOver(epoch: epoch)) }
        guard answers.count <= 1 else {
            throw .malformedMessage("one answer carries \(answers.map(\.kind).joined(separator: " and "))")
        }
        return LinkResponse(id: id, answers.first ?? .done)
    }
}
