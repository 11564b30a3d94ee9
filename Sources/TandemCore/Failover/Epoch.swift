/// The generation of a tenant's lease: every takeover (failover, switchover or forced
/// promotion) moves it up by one, and every mirrored write carries it.
///
/// A voter never grants an epoch lower than the highest it has seen, nor the same epoch to two
/// sites (``LeaseGrantorMachine``), so an epoch names at most one holder; a receiver refuses
/// writes tagged with an older epoch than the newest it knows (``EpochFence``).
public struct Epoch: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The generation number; the first lease of a tenant has epoch 1.
    public let value: UInt64

    public init(_ value: UInt64) {
        self.value = value
    }

    /// The epoch of a tenant's first lease.
    public static let initial = Epoch(1)

    /// The epoch a takeover from this one uses.
    public var next: Epoch { Epoch(value == .max ? value : value + 1) }

    public static func < (lhs: Epoch, rhs: Epoch) -> Bool { lhs.value < rhs.value }

    public init(from decoder: any Decoder) throws {
        value = try decoder.singleValueContainer().decode(UInt64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }

    public var description: String { "epoch \(value)" }
}

/// A site's name as configured (`site_name`): one of the two near sites or the remote witness.
///
/// Peers are identified by the name in their certificate, so a `SiteID` in a lease message is
/// authenticated by the site link before any machine sees it.
public struct SiteID: Sendable, Hashable, Comparable, Codable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    /// The configured site name.
    public let name: String

    public init(_ name: String) {
        self.name = name
    }

    public init(stringLiteral value: String) {
        self.name = value
    }

    public static func < (lhs: SiteID, rhs: SiteID) -> Bool { lhs.name < rhs.name }

    public init(from decoder: any Decoder) throws {
        name = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }

    public var description: String { name }
}

/// Why an operator asked for something unsafe, such as a forced promotion: required, never
/// blank, and written to the audit log with the command.
public struct OperatorReason: Sendable, Hashable, CustomStringConvertible {
    /// The reason as given, without surrounding whitespace.
    public let text: String

    /// Nil when `text` is empty or only whitespace: an unsafe command without a reason is refused.
    public init?(_ text: String) {
        guard let first = text.firstIndex(where: { !$0.isWhitespace }),
              let last = text.lastIndex(where: { !$0.isWhitespace })
        else { return nil }
        self.text = String(text[first...last])
    }

    public var description: String { text }
}
