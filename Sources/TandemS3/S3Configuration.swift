import Foundation

/// Where and how to reach an S3-compatible store.
public struct S3Configuration: Sendable, Equatable {
    /// `http://127.0.0.1:7480` or `https://s3.example.org` (path-style addressing).
    public var endpoint: String
    public var bucket: String
    /// Object keys start with this (no leading `/`; empty for the bucket's root).
    public var prefix: String
    public var region: String
    public var accessKey: String
    public var secretKey: String
    /// COMPLIANCE-mode retention for every object written, in days (nil: no object lock).
    /// The bucket must have been created with object lock enabled.
    public var objectLockDays: Int?
    /// Attempts per request on 5xx answers, timeouts and broken connections.
    public var attempts: Int = 6
    /// First back-off; doubles each attempt (with jitter), capped at 8 s.
    public var initialBackoff: Double = 0.2
    /// Per-request timeout.
    public var timeout: Double = 120
    /// Objects above this are uploaded in parts of `partSize`.
    public var multipartThreshold: Int = 64 << 20
    public var partSize: Int = 16 << 20
    /// Where upload pieces wait before they are sent (local disk, not memory).
    public var stagingDirectory: String = FileManager.default.temporaryDirectory.path + "/tandem-s3-staging"

    public init(endpoint: String, bucket: String, prefix: String = "", region: String = "us-east-1",
                accessKey: String, secretKey: String, objectLockDays: Int? = nil) {
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.bucket = bucket
        self.prefix = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.region = region
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.objectLockDays = objectLockDays
    }

    /// The object key for a repository path.
    func key(_ path: String) -> String { prefix.isEmpty ? path : "\(prefix)/\(path)" }

    /// The repository path for an object key (nil when outside the prefix).
    func path(forKey key: String) -> String? {
        guard !prefix.isEmpty else { return key }
        guard key.hasPrefix(prefix + "/") else { return nil }
        return String(key.dropFirst(prefix.count + 1))
    }

    /// `host[:port]` for the Host header.
    var host: String {
        let withoutScheme = endpoint.replacingOccurrences(of: "https://", with: "").replacingOccurrences(of: "http://", with: "")
        return String(withoutScheme.split(separator: "/").first ?? "")
    }
}
