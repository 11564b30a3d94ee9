import Foundation

/// One page of a ListObjectsV2 answer.
struct S3Listing: Sendable, Equatable {
    struct Item: Sendable, Equatable {
        let key: String
        let size: Int?
        let modified: Date?
    }

    let keys: [Item]
    let truncated: Bool
    let continuationToken: String?

    /// nil for anything that is not a `ListBucketResult` document.
    static func parse(_ body: [UInt8]) -> S3Listing? {
        guard let root = XMLNode.parse(body), root.name == "ListBucketResult" else { return nil }
        let items = root.all("Contents").compactMap { node -> Item? in
            guard let key = node.value("Key"), !key.isEmpty else { return nil }
            return Item(key: key, size: node.value("Size").flatMap(Int.init), modified: node.value("LastModified").flatMap(parseTime))
        }
        let truncated = root.value("IsTruncated")?.lowercased() == "true"
        return S3Listing(keys: items, truncated: truncated, continuationToken: root.value("NextContinuationToken"))
    }

    static func parseTime(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }
}
