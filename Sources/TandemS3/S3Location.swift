import Foundation
import TandemCodecs
import TandemCore

extension S3Configuration {
    /// Parses a repository address `s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX]` (path-style),
    /// with credentials from the environment: `S3_ACCESS_KEY`/`S3_SECRET_KEY` (or
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`) and `S3_REGION` (or `AWS_REGION`, default
    /// `us-east-1`). Returns nil when `address` is not an s3: address.
    public static func parse(address: String, environment: [String: String]) throws(S3AddressError) -> S3Configuration? {
        guard address.hasPrefix("s3:") else { return nil }
        let url = String(address.dropFirst(3))
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else { throw .malformed(address) }
        let scheme = url.hasPrefix("https://") ? "https://" : "http://"
        let parts = url.dropFirst(scheme.count).split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard parts.count >= 2, !parts[0].isEmpty else { throw .malformed(address) }
        guard let access = environment["S3_ACCESS_KEY"] ?? environment["AWS_ACCESS_KEY_ID"],
              let secret = environment["S3_SECRET_KEY"] ?? environment["AWS_SECRET_ACCESS_KEY"] else {
            throw .missingCredentials
        }
        return S3Configuration(endpoint: scheme + parts[0], bucket: parts[1], prefix: parts.dropFirst(2).joined(separator: "/"),
                               region: environment["S3_REGION"] ?? environment["AWS_REGION"] ?? "us-east-1",
                               accessKey: access, secretKey: secret)
    }

    /// A folder name unique to this endpoint, bucket and prefix, for local index caches.
    public var cacheName: String {
        let digest = Hex.encode(Hasher256.hash(.sha256, Array("\(endpoint)/\(bucket)/\(prefix)".utf8)))
        return "\(bucket)-\(digest.prefix(16))"
    }
}

/// Why an s3: address was refused.
public enum S3AddressError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case missingCredentials

    public var description: String {
        switch self {
        case .malformed(let address): "'\(address)' is not s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX]"
        case .missingCredentials: "an s3: repository needs S3_ACCESS_KEY and S3_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) in the environment"
        }
    }
}
