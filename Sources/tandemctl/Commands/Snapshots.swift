import ArgumentParser
import Foundation
import TandemCore
import TandemStore

/// `tandemctl snapshots [--repo DIR] --tenant T`.
struct Snapshots: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List a tenant's snapshots, oldest first.")

    @OptionGroup var location: RepositoryChoice
    @OptionGroup var tenant: TenantOptions
    @Flag(help: "Print the result as JSON.") var json = false

    func run() async throws {
        try await Failure.guarded {
            guard let repository = location.offline else {
                let response = try await location.daemon.client().get("/v1/tenants/\(tenant.tenant)/snapshots", as: SnapshotsResponse.self)
                if json { return try JSONOutput.print(response.snapshots) }
                print("ID            TIME                  KIND    SIZE        SOURCE")
                for s in response.snapshots {
                    let size = Human.bytes(s.bytes).padding(toLength: 11, withPad: " ", startingAt: 0)
                    print("\(s.id.prefix(12))  \(ISO8601DateFormatter().string(from: s.time))  \(s.kind.padding(toLength: 6, withPad: " ", startingAt: 0))  \(size) \(s.source)")
                }
                print("\(response.snapshots.count) snapshot(s)")
                return
            }
            let snapshots = try await tenant.open(repository).snapshots()
            if json {
                try JSONOutput.print(snapshots)
                return
            }
            let formatter = ISO8601DateFormatter()
            print("ID            TIME                  KIND    SIZE        SOURCE")
            for s in snapshots {
                let size = Human.bytes(s.size).padding(toLength: 11, withPad: " ", startingAt: 0)
                let tags = s.tags.isEmpty ? "" : "  [" + s.tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "]"
                let incomplete = s.unreadable > 0 ? "  (incomplete: \(s.unreadable) unreadable)" : ""
                print("\(s.id.prefix(12))  \(formatter.string(from: s.time))  \(s.kind.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0))  \(size) \(s.source)\(tags)\(incomplete)")
            }
            print("\(snapshots.count) snapshot(s)")
        }
    }
}
