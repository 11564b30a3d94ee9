import Foundation
import Testing
@testable import TandemPolicy

/// The policy decoder gets hostile input: mutated example files and random YAML-ish text.
/// It must return a policy or a located error, never trap.
@Suite struct PolicyFuzzTests {
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    @Test func mutatedPoliciesNeverTrap() throws {
        let seeds = ["/Config/tenants.d/finance.yaml", "/Config/tenants.d/records.yaml", "/Config/demo/near.tenants.d/demo-a.yaml", "/Config/tandem.yaml"]
            .map { try! String(contentsOfFile: packageRoot + $0, encoding: .utf8) }
        let tokens = [":", "-", "[", "]", "{", "}", "\"", "'", "\n", "  ", "*", "61", "-1", "99999999999999999999", "null", "~", "&a", "*a",
                      "!!binary", "\t", "#", "0x1F", "1e400", "@daily", "24:00", "keep_last", "sources", "cron", "\u{0}", "é", "🦀"]
        var random = Generator(state: 42)
        var parsed = 0
        var refused = 0
        for round in 0..<1500 {
            var bytes = Array(seeds[round % seeds.count].utf8)
            for _ in 0..<(1 + random.below(6)) {
                let at = random.below(bytes.count + 1)
                switch random.below(3) {
                case 0: bytes.insert(contentsOf: Array(tokens[random.below(tokens.count)].utf8), at: at)
                case 1: if at < bytes.count { bytes.removeSubrange(at..<min(bytes.count, at + 1 + random.below(12))) }
                default: if at < bytes.count { bytes[at] = UInt8(truncatingIfNeeded: random.next()) }
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            do {
                if text.contains("site:") {
                    _ = try SiteConfig.parse(text, file: "/fuzz.yaml")
                } else {
                    _ = try TenantPolicy.parse(text, file: "/fuzz.yaml")
                }
                parsed += 1
            } catch {
                #expect(!error.errors.isEmpty)
                refused += 1
            }
        }
        #expect(parsed + refused == 1500 && refused > 100)
    }
}
