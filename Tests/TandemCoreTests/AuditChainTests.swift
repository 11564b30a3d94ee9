import Foundation
import Testing
@testable import TandemCore

@Suite struct AuditChainTests {
    func chain(_ count: Int) -> [AuditRecord] {
        var records: [AuditRecord] = []
        for i in 0..<count {
            records.append(AuditRecord(after: records.last, time: Date(timeIntervalSince1970: 1_800_000_000 + Double(i) * 1.2345),
                                       actor: "uid:\(1000 + i)", role: "operator", action: "backup", tenant: i % 2 == 0 ? "t" : nil,
                                       detail: "source=a=b\nline", result: "ok"))
        }
        return records
    }

    @Test func anIntactChainVerifiesAndSurvivesJSON() throws {
        let records = chain(20)
        #expect(AuditChain.verify(records) == nil)
        let text = try ControlJSON.encoder().encode(records)
        let decoded = try ControlJSON.decoder().decode([AuditRecord].self, from: text)
        #expect(AuditChain.verify(decoded) == nil)
        #expect(records[0].previousHash == AuditRecord.genesisHash)
    }

    @Test func everyKindOfTamperingIsFound() {
        let records = chain(10)
        var edited = records
        edited[4].result = "refused"
        #expect(AuditChain.verify(edited)?.sequence == 5)
        var removed = records
        removed.remove(at: 6)
        #expect(AuditChain.verify(removed)?.sequence == 8)
        var swapped = records
        swapped.swapAt(2, 3)
        #expect(AuditChain.verify(swapped)?.sequence == 4)
        var rehashed = records
        rehashed[4].actor = "uid:0"
        rehashed[4].hash = rehashed[4].computedHash()
        // Re-hashing one record does not help: the next one no longer chains to it.
        #expect(AuditChain.verify(rehashed)?.sequence == 6)
        var truncatedFront = Array(records.dropFirst())
        truncatedFront[0].sequence = 2
        #expect(AuditChain.verify(truncatedFront)?.sequence == 2)
    }

    @Test func fieldBoundariesCannotBeShifted() {
        let a = AuditRecord(after: nil, time: Date(timeIntervalSince1970: 0), actor: "x", role: "r", action: "a", tenant: nil,
                            detail: "d\nresult=ok", result: "failed")
        let b = AuditRecord(after: nil, time: Date(timeIntervalSince1970: 0), actor: "x", role: "r", action: "a", tenant: nil,
                            detail: "d", result: "ok\nresult=failed")
        #expect(a.hash != b.hash)
    }
}
