import Foundation
import Testing
import TandemCore
@testable import TandemSites

/// The twin's epoch fence on mirrored writes: untagged and stale writes are refused and
/// counted, reads pass, a newer epoch moves the fence up, and the fence survives a restart.
@Suite struct MirrorFenceTests {
    func write(_ epoch: UInt64?, tenant: String = "alpha", call: LinkCall = .putPack(name: String(repeating: "a", count: 64))) -> LinkRequest {
        LinkRequest(call, tenant: tenant, epoch: epoch, id: 1)
    }

    @Test func staleAndUntaggedWritesAreRefusedAndTheFenceOutlivesARestart() async throws {
        let state = NSTemporaryDirectory() + "tandem-fence-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: state) }
        let fence = MirrorFence(stateDirectory: state)
        #expect(await fence.refusal(for: write(nil)) != nil)
        #expect(await fence.refusal(for: write(1)) == nil)
        #expect(await fence.refusal(for: write(2)) == nil)
        let stale = await fence.refusal(for: write(1))
        #expect(stale?.contains("stale epoch 1") == true && stale?.contains("epoch 2") == true, "\(stale ?? "")")
        #expect(await fence.staleRefused("alpha") == 1)
        // Reads need no epoch; other tenants have their own fence.
        #expect(await fence.refusal(for: write(nil, call: .lack(packs: [String(repeating: "a", count: 64)]))) == nil)
        #expect(await fence.refusal(for: write(1, tenant: "beta")) == nil)

        let restarted = MirrorFence(stateDirectory: state)
        #expect(await restarted.current("alpha") == 2)
        #expect(await restarted.refusal(for: write(1)) != nil)
        try await restarted.raise("alpha", to: 3)
        #expect(await restarted.refusal(for: write(2)) != nil)
        #expect(await MirrorFence(stateDirectory: state).current("alpha") == 3)
    }
}
