import Foundation
import Testing
@testable import TandemCore

@Suite struct LinkResponseTests {
    static let a = String(repeating: "a", count: 64), b = String(repeating: "b", count: 64)

    /// One answer of every kind, the way the receivers build them.
    static let everyAnswer: [LinkAnswer] = {
        let request = LeaseRequest(holder: SiteID("home-a"), epoch: Epoch(3), id: LeaseRequestID(incarnation: 9, sequence: 12))
        let grant = LeaseGrant(grantor: SiteID("witness"), holder: SiteID("home-a"), epoch: Epoch(3), request: request.id, duration: .seconds(10))
        let refused = LeaseRefused(grantor: SiteID("witness"), request: request, reason: .staleEpoch(current: Epoch(4), owner: SiteID("home-b")))
        return [
            .refused("epoch 7 is not the newest"), .done, .missing([a]), .missing([]),
            .completed(CompletedSnapshots(times: [a: Date(timeIntervalSince1970: 1_700_000_000.25)], newestPacks: [b])),
            .completed(CompletedSnapshots(times: [:], newestPacks: nil)),
            .packs([a, b]), .packs([]),
            .lease(LeaseWireReply(.granted(grant))), .lease(LeaseWireReply(.refused(refused))),
            .verdict(WitnessWireVerdict(.agrees(epoch: Epoch(3), oldLeaseRemaining: .seconds(2)))),
            .verdict(WitnessWireVerdict(.disagrees(.holderAlive(site: SiteID("home-a"), lastHeard: .milliseconds(300))))),
            .handedOver(epoch: 5),
        ]
    }()

    static func header(_ response: LinkResponse) throws -> [String: Any] {
        let header = try LinkMessage.response(response).frame().header
        return try #require(try JSONSerialization.jsonObject(with: Data(header)) as? [String: Any])
    }

    static func decode(_ object: [String: Any]) throws -> LinkResponse {
        let frame = LinkFrame(kind: .response, header: Array(try JSONSerialization.data(withJSONObject: object)), body: [])
        guard case .response(let response) = try LinkMessage.decode(frame) else { throw LinkFrameError.malformedMessage("not a response") }
        return response
    }

    @Test func everyAnswerSurvivesItsFrame() throws {
        for answer in Self.everyAnswer {
            let response = LinkResponse(id: 42, answer)
            #expect(try LinkMessage.decode(LinkMessage.response(response).frame()) == .response(response), "\(answer)")
        }
    }

    /// The headers peers have always sent decode to the answers they meant.
    @Test func theFlatHeadersDecodeToTypedAnswers() throws {
        let a = Self.a, b = Self.b
        for (json, expected) in [
            (#"{"id":1,"ok":true}"#, LinkAnswer.done),
            (#"{"id":1,"ok":false,"error":"no room"}"#, .refused("no room")),
            (#"{"id":1,"ok":true,"missing":["\#(a)"]}"#, .missing([a])),
            (#"{"id":1,"ok":true,"packs":["\#(b)"]}"#, .packs([b])),
            (#"{"id":1,"ok":true,"completed":{},"packs":["\#(b)"]}"#, .completed(CompletedSnapshots(times: [:], newestPacks: [b]))),
            (#"{"id":1,"ok":true,"epoch":9}"#, .handedOver(epoch: 9)),
        ] {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            #expect(try Self.decode(object) == LinkResponse(id: 1, expected), "\(json)")
        }
    }

    /// Every answer with every other answer's payload field added: the header is refused as
    /// carrying two answers, never read as either (a `completed` answer's `packs` is its own).
    @Test func aHeaderCarryingTwoAnswersIsRefused() throws {
        var refusals = 0
        for answer in Self.everyAnswer where answer.kind != "refused" && answer.kind != "done" {
            let object = try Self.header(LinkResponse(id: 7, answer))
            for other in Self.everyAnswer where other.kind != answer.kind && other.kind != "refused" && other.kind != "done" {
                var mixed = object
                for (key, value) in try Self.header(LinkResponse(id: 7, other)) where !["id", "ok"].contains(key) && mixed[key] == nil {
                    mixed[key] = value
                }
                do {
                    let decoded = try Self.decode(mixed)
                    // `completed` with `packs` is the shape of a `completed` answer (its newest
                    // snapshot's packs): the only pair that decodes, and only as that.
                    #expect(Set([answer.kind, other.kind]) == ["completed", "packs"] && decoded.answer.kind == "completed",
                            "\(mixed) was read as \(decoded.answer)")
                } catch {
                    refusals += 1
                    #expect("\(error)".contains("one answer carries"), "\(mixed): \(error)")
                }
            }
        }
        #expect(refusals >= 30)
    }

    @Test func malformedAnswersAreRefusedNamingWhatIsWrong() throws {
        for (json, why) in [
            (#"{"id":1,"ok":false}"#, "a refusal needs error"),
            (#"{"id":1,"ok":true,"error":"but no"}"#, "an accepted answer carries no error"),
            (#"{"id":1,"ok":true,"missing":["../x"]}"#, "bad pack or snapshot name"),
            (#"{"id":1,"ok":true,"completed":{"snapshots/x":"2026-01-01T00:00:00Z"}}"#, "bad pack or snapshot name"),
            (#"{"id":1,"ok":true,"packs":[""]}"#, "bad pack or snapshot name"),
            (#"{"id":1,"ok":"yes"}"#, "response header"),
        ] {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            do {
                let decoded = try Self.decode(object)
                Issue.record("\(json) was accepted as \(decoded.answer)")
            } catch {
                #expect("\(error)".contains(why), "\(json): \(error)")
            }
        }
    }

    /// Each operation takes a refusal and exactly the payload it returns; the shipper and the
    /// peer client refuse any other answer as a protocol violation.
    @Test func eachOperationTakesOnlyItsOwnAnswer() {
        let expected: [LinkOperation: String] = [
            .lack: "missing", .completed: "completed", .listPacks: "packs", .dropPacks: "packs", .lease: "lease",
            .witness: "verdict", .handover: "handed_over",
        ]
        for operation in LinkOperation.allCases {
            let taken = Set(Self.everyAnswer.filter { $0.answers(operation) }.map(\.kind))
            #expect(taken == ["refused", expected[operation] ?? "done"], "\(operation)")
        }
    }
}
