import Foundation
import TandemCore

/// Tests read an answer's payload without matching on ``LinkAnswer`` each time: nil when the
/// answer is of another kind.
extension LinkResponse {
    /// A `lack` answer's packs.
    public var missingPacks: [String]? {
        if case .missing(let names) = answer { names } else { nil }
    }

    /// A `completed` answer's snapshots and times.
    public var completedTimes: [String: Date]? {
        if case .completed(let snapshots) = answer { snapshots.times } else { nil }
    }

    /// A `completed` answer's newest packs, or a `list_packs` or `drop_packs` answer's packs.
    public var packNames: [String]? {
        switch answer {
        case .packs(let names): names
        case .completed(let snapshots): snapshots.newestPacks
        default: nil
        }
    }
}
