import Foundation
import Testing
@testable import TandemCore

@Suite struct LinkCodecTests {
    let hello = LinkHello(site: "home-a", role: "near", protocolMin: 1, protocolMax: 1, features: ["ship-v1"], channel: "bulk",
                          safety: "1000/3/10000/500")

    /// The golden bytes of a small frame: magic, format, kind, reserved, lengths, header, body.
    @Test func goldenFrameBytes() {
        let frame = LinkFrame(kind: .heartbeat, header: Array("{}".utf8), body: [0xAB])
        #expect(frame.encoded() == [0x54, 0x44, 0x4C, 0x4B, 1, 4, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0x7B, 0x7D, 0xAB])
    }

    @Test func framesSurviveAnySplit() throws {
        let frames = [try LinkMessage.hello(hello).frame(),
                      try LinkMessage.request(LinkRequest(.putPack(name: String(repeating: "ab", count: 32)), tenant: "t1", id: 7))
                          .frame(body: Array(0..<200).map(UInt8.init)),
                      try LinkMessage.heartbeat(LinkHeartbeat(site: "home-a", sequence: 99)).frame()]
        let stream = frames.flatMap { $0.encoded() }
        for piece in [1, 2, 3, 7, 16, 17, 64, stream.count] {
            var decoder = LinkFrameDecoder()
            var out: [LinkFrame] = []
            var at = 0
            while at < stream.count {
                decoder.feed(stream[at..<min(stream.count, at + piece)])
                at += piece
                while let frame = try decoder.next() { out.append(frame) }
            }
            #expect(out == frames, "piece \(piece)")
            #expect(decoder.pending == 0)
        }
        #expect(try LinkMessage.decode(frames[0]) == .hello(hello))
    }

    @Test func badFramesAreRefusedBeforeBuffering() {
        var decoder = LinkFrameDecoder()
        decoder.feed(Array("GET / HTTP/1.1\r\n".utf8))
        #expect(throws: LinkFrameError.badMagic) { try decoder.next() }
        var early = LinkFrameDecoder()
        early.feed([0x54, 0x58])
        #expect(throws: LinkFrameError.badMagic) { try early.next() }
        var huge = LinkFrameDecoder()
        huge.feed(LinkFrame.magic + [1, 5, 0, 0, 0, 0, 0, 2, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: LinkFrameError.bodyTooLarge(Int(UInt32.max))) { try huge.next() }
        var version = LinkFrameDecoder()
        version.feed(LinkFrame.magic + [9, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(throws: LinkFrameError.unsupportedFormat(9)) { try version.next() }
    }

    @Test func requestsThatEscapeTheTenantAreRefused() {
        let hash = String(repeating: "a", count: 64)
        for (header, why) in [
            (#"{"id":1,"op":"put_object","tenant":"t1","path":"../../config"}"#, "is not a tenant object"),
            (#"{"id":1,"op":"put_object","tenant":"t1","path":"snapshots/../x"}"#, "is not a tenant object"),
            (#"{"id":1,"op":"put_pack","tenant":"../t","name":"\#(hash)"}"#, "bad tenant name"),
            (#"{"id":1,"op":"put_pack","tenant":"t1","name":"packs/x"}"#, "bad pack name"),
            (#"{"id":1,"op":"rm","tenant":"t1"}"#, "unknown op 'rm'"),
            (#"{"id":1,"op":"complete","tenant":"t1","snapshot":"\#(hash)"}"#, "complete needs snapshot and packs"),
            (#"{"id":1,"op":"lack","tenant":"t1","packs":["\#(hash)","x"]}"#, "bad pack name"),
            (#"{"id":1,"op":"drop_snapshots","tenant":"t1","snapshots":["../\#(hash)"]}"#, "bad snapshot id"),
            (#"{"id":1,"op":"lease","tenant":"t1","epoch":2,"holder":"a/b","incarnation":1,"sequence":1}"#, "bad site name"),
        ] {
            let frame = LinkFrame(kind: .request, header: Array(header.utf8), body: [])
            do {
                let decoded = try LinkMessage.decode(frame)
                Issue.record("\(header) was accepted as \(decoded)")
            } catch {
                #expect("\(error)".contains(why), "\(header): \(error)")
            }
        }
        #expect(LinkNames.isTenantObject("keys/1a2b3c4d") && LinkNames.isTenantObject("tenant.json"))
        #expect(!LinkNames.isTenantObject("keys/") && !LinkNames.isTenantObject("packs/ab/" + String(repeating: "a", count: 64)))
    }

    /// One request of every operation, the way the daemon builds them.
    static let everyCall: [LinkCall] = {
        let a = String(repeating: "a", count: 64), b = String(repeating: "b", count: 64)
        let release = LeaseRelease(holder: SiteID("home-a"), epoch: Epoch(4), successor: SiteID("home-b"))
        let outdate = OutdateRequest(holder: SiteID("home-a"), epoch: Epoch(4), twin: SiteID("home-b"))
        return [
            .lack(packs: [a, b]), .putPack(name: a), .putObject(path: "snapshots/\(b)"), .putObject(path: "keys/slot-1"),
            .complete(SnapshotCompletion(snapshot: a, time: Date(timeIntervalSince1970: 1_700_000_000.5), packs: [b], source: "/srv/data")),
            .complete(SnapshotCompletion(snapshot: a, time: nil, packs: [])),
            .completed, .getPack(name: b), .listPacks, .getObject(path: "tenant.json"),
            .lease(LeaseRequest(holder: SiteID("home-a"), epoch: Epoch(3), id: LeaseRequestID(incarnation: 9, sequence: 12))),
            .witness(asking: SiteID("home-b"), epoch: Epoch(3)), .witness(asking: SiteID("home-b"), epoch: nil),
            .release(release), .handover(release), .outdate(outdate), .clearOutdated(outdate),
            .dropSnapshots([a]), .dropPacks([a, b]),
        ]
    }()

    /// Every operation goes through a frame and comes back the same, writes with their epoch.
    @Test func everyCallSurvivesItsFrame() throws {
        #expect(Set(Self.everyCall.map(\.operation)) == Set(LinkOperation.allCases))
        for call in Self.everyCall {
            let request = LinkRequest(call, tenant: "finance", epoch: call.operation.isWrite ? 7 : nil, id: 42)
            #expect(try LinkMessage.decode(LinkMessage.request(request).frame()) == .request(request), "\(call)")
        }
    }

    /// Each field an operation carries, taken away in turn: the request is refused naming what
    /// it lacks, or (for the optional ones) decodes to the same call without it.
    @Test func aRequestMissingAFieldIsRefusedOrLosesOnlyThatField() throws {
        let optional: Set<String> = ["epoch", "snapshot_time", "source"]
        var refusals = 0
        for call in Self.everyCall {
            let request = LinkRequest(call, tenant: "finance", epoch: call.operation.isWrite ? 7 : nil, id: 42)
            let header = try LinkMessage.request(request).frame().header
            let object = try #require(try JSONSerialization.jsonObject(with: Data(header)) as? [String: Any])
            for key in object.keys where !["id", "op", "tenant"].contains(key) {
                var partial = object
                partial[key] = nil
                let frame = LinkFrame(kind: .request, header: Array(try JSONSerialization.data(withJSONObject: partial)), body: [])
                do {
                    guard case .request(let decoded) = try LinkMessage.decode(frame) else { throw LinkFrameError.malformedMessage("not a request") }
                    let isOptional = optional.contains(key) && !(key == "epoch" && call.operation.isPlacement && call.operation != .witness)
                    #expect(isOptional, "\(call) without \(key) was accepted as \(decoded.call)")
                    #expect(decoded.operation == call.operation && decoded.tenant == "finance")
                } catch {
                    refusals += 1
                    #expect("\(error)".contains("needs"), "\(call) without \(key): \(error)")
                }
            }
        }
        #expect(refusals >= 20)
    }

    @Test func theHandshakeChecksNameCertificateRoleVersionAndSafety() throws {
        let peers = [LinkHandshake.Expected(site: "home-a", role: "near"), LinkHandshake.Expected(site: "home-b", role: "near", sameSafety: true)]
        let ok = LinkHandshake.answer(hello, certificateName: "home-a", peers: peers, localSite: "remote", localSafety: "2000/3/20000/500")
        #expect(try ok.get().protocolVersion == 1)
        func code(_ r: Result<LinkWelcome, LinkRefusal>) -> String? { if case .failure(let e) = r { e.code } else { nil } }
        #expect(code(LinkHandshake.answer(hello, certificateName: "home-b", peers: peers, localSite: "remote", localSafety: "")) == "site_name")
        var stranger = hello
        stranger.site = "mallory"
        #expect(code(LinkHandshake.answer(stranger, certificateName: "mallory", peers: peers, localSite: "remote", localSafety: "")) == "site_name")
        var future = hello
        future.protocolMin = 2
        future.protocolMax = 3
        #expect(code(LinkHandshake.answer(future, certificateName: "home-a", peers: peers, localSite: "remote", localSafety: "")) == "version")
        var twin = hello
        twin.site = "home-b"
        #expect(code(LinkHandshake.answer(twin, certificateName: "home-b", peers: peers, localSite: "home-a", localSafety: "2000/3/20000/500")) == "safety_settings")
        var wrongRole = hello
        wrongRole.role = "remote"
        #expect(code(LinkHandshake.answer(wrongRole, certificateName: "home-a", peers: peers, localSite: "remote", localSafety: "")) == "role")
    }

    /// Random and mutated byte streams never trap the decoder or the message parser.
    @Test func hostileStreamsNeverTrap() {
        var state: UInt64 = 1234
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 11
        }
        let seed = try! LinkMessage.request(LinkRequest(.lack(packs: [String(repeating: "c", count: 64)]), tenant: "t1", id: 3)).frame().encoded()
            + (try! LinkMessage.hello(hello).frame().encoded())
            + (try! LinkMessage.response(LinkResponse(id: 3, .completed(CompletedSnapshots(times: [String(repeating: "d", count: 64): Date()],
                                                                                           newestPacks: [])))).frame().encoded())
        var frames = 0
        for round in 0..<4000 {
            var bytes = round % 10 == 0 ? (0..<Int(next() % 300)).map { _ in UInt8(truncatingIfNeeded: next()) } : seed
            for _ in 0..<(1 + Int(next() % 6)) where !bytes.isEmpty {
                let at = Int(next() % UInt64(bytes.count))
                switch next() % 3 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: next())
                case 1: bytes.remove(at: at)
                default: bytes.insert(UInt8(truncatingIfNeeded: next()), at: at)
                }
            }
            var decoder = LinkFrameDecoder()
            decoder.feed(bytes)
            while let frame = try? decoder.next() {
                frames += 1
                _ = try? LinkMessage.decode(frame)
            }
        }
        #expect(frames > 100)
    }
}

@Suite struct TokenBucketTests {
    @Test func theRateHoldsOverTime() {
        var bucket = TokenBucket(bytesPerSecond: 1_000_000, burst: 1_000_000)
        var now = 0.0
        var sent = 0
        // 40 sends of 256 KB as fast as allowed: the burst, then 1 MB/s.
        for _ in 0..<40 {
            now += bucket.take(256_000, now: now)
            sent += 256_000
        }
        #expect(abs(now - (Double(sent) - 1_000_000) / 1_000_000) < 0.001)
        // Idle time refills up to the burst, not beyond.
        now += 100
        #expect(bucket.take(1_000_000, now: now) == 0)
        #expect(bucket.take(500_000, now: now) == 0.5)
    }
}

@Suite struct BandwidthScheduleTests {
    @Test func theFirstMatchingWindowSetsTheRate() throws {
        let berlin = TimeZone(identifier: "Europe/Berlin")!
        let schedule = BandwidthSchedule(defaultRate: 100_000_000, windows: [
            .init(window: try TimeWindow(parsing: "08:00-18:00"), rate: 20_000_000),
            .init(window: try TimeWindow(parsing: "07:00-20:00"), rate: 50_000_000),
        ], timeZone: berlin)
        func at(_ text: String) -> Date { try! Date.ISO8601FormatStyle().parse(text) }
        #expect(schedule.rate(at: at("2026-06-01T10:00:00Z")) == 20_000_000)   // 12:00 CEST
        #expect(schedule.rate(at: at("2026-06-01T05:30:00Z")) == 50_000_000)   // 07:30 CEST
        #expect(schedule.rate(at: at("2026-06-01T20:00:00Z")) == 100_000_000)  // 22:00 CEST
        #expect(BandwidthSchedule(defaultRate: nil).rate(at: Date()) == nil)
    }
}

@Suite struct ShippingPaceTests {
    /// The tenant's own limit and the site's rate both hold; the longer wait wins; a new site
    /// rate (a window began) starts a fresh bucket; a tenant without a limit waits only for the site.
    @Test func theSlowerOfTenantAndSiteSetsTheWait() throws {
        let day = try TimeWindow(parsing: "08:00-18:00")
        let schedule = BandwidthSchedule(defaultRate: 4_000_000, windows: [.init(window: day, rate: 1_000_000)])
        func at(_ text: String) -> Date { try! Date.ISO8601FormatStyle().parse(text) }
        let night = at("2026-06-01T02:00:00Z"), noon = at("2026-06-01T12:00:00Z")
        var pace = ShippingPace(siteSchedule: schedule)
        pace.setBandwidth(tenant: "slow", bytesPerSecond: 2_000_000)
        // Burst first (each bucket starts full), then each limit in turn.
        #expect(pace.delay(tenant: "slow", bytes: 2_000_000, elapsed: 0, time: night) == 0)
        #expect(pace.delay(tenant: "slow", bytes: 2_000_000, elapsed: 0, time: night) == 1)      // its own 2 MB/s
        #expect(pace.delay(tenant: "fast", bytes: 4_000_000, elapsed: 0, time: night) == 1)      // the site's 4 MB/s
        #expect(pace.delay(tenant: "slow", bytes: 2_000_000, elapsed: 0, time: night) == 2)      // its own (site: 1.5)
        // At noon the site runs at 1 MB/s: a fresh bucket, full, then 1 MB/s.
        #expect(pace.delay(tenant: "fast", bytes: 1_000_000, elapsed: 10, time: noon) == 0)
        #expect(pace.delay(tenant: "fast", bytes: 1_000_000, elapsed: 10, time: noon) == 1)
        // Lifting the tenant's limit leaves only the site's.
        pace.setBandwidth(tenant: "slow", bytesPerSecond: nil)
        #expect(pace.delay(tenant: "slow", bytes: 1_000_000, elapsed: 10, time: noon) == 2)
        var unlimited = ShippingPace(siteSchedule: nil)
        #expect(unlimited.delay(tenant: "any", bytes: 1 << 30, elapsed: 0, time: noon) == 0)
    }
}
