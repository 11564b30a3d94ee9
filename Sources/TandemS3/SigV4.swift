import Foundation
import TandemCodecs
import TandemCore

/// AWS Signature Version 4 for S3 requests, as a pure function of the request, the
/// credentials and the time (no clock, no I/O), so it is tested against AWS's published
/// examples.
///
/// The canonical request is: method, URI-encoded path (each segment encoded, `/` kept), the
/// query sorted by name and value with both encoded, the signed headers lower-cased and
/// trimmed, sorted, each `name:value`, then the signed header names joined by `;`, then the
/// payload's SHA-256 (or `UNSIGNED-PAYLOAD`). The string to sign is `AWS4-HMAC-SHA256`, the
/// time, the scope `DATE/REGION/s3/aws4_request` and the canonical request's SHA-256; the key
/// is HMAC-SHA256 chained over `AWS4`+secret, date, region, service, `aws4_request`.
public struct SigV4Signer: Sendable {
    public let accessKey: String
    let secretKey: String
    public let region: String
    public let service: String

    public init(accessKey: String, secretKey: String, region: String, service: String = "s3") {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.region = region
        self.service = service
    }

    /// The headers to add to a request: `x-amz-date`, `x-amz-content-sha256` (when
    /// `includeContentHash`) and `Authorization`. `headers` must already hold `host` and every
    /// other header to be signed.
    public func sign(method: String, path: String, query: [(String, String)], headers: [(String, String)],
                     payloadHash: String, time: Date, includeContentHash: Bool = true) -> [(String, String)] {
        let stamp = Self.timestamp(time)
        let date = String(stamp.prefix(8))
        var signed = headers.map { ($0.0.lowercased(), Self.trim($0.1)) }
        signed.append(("x-amz-date", stamp))
        if includeContentHash { signed.append(("x-amz-content-sha256", payloadHash)) }
        signed.sort { $0.0 < $1.0 }
        let names = signed.map(\.0).joined(separator: ";")
        let canonical = [
            method,
            Self.encodePath(path),
            Self.canonicalQuery(query),
            signed.map { "\($0.0):\($0.1)\n" }.joined(),
            names,
            payloadHash,
        ].joined(separator: "\n")
        let scope = "\(date)/\(region)/\(service)/aws4_request"
        let toSign = ["AWS4-HMAC-SHA256", stamp, scope, Self.sha256Hex(Array(canonical.utf8))].joined(separator: "\n")
        var key = Array("AWS4\(secretKey)".utf8)
        for part in [date, region, service, "aws4_request"] { key = Self.hmac(key, Array(part.utf8)) }
        let signature = Hex.encode(Self.hmac(key, Array(toSign.utf8)))
        var added: [(String, String)] = [("x-amz-date", stamp)]
        if includeContentHash { added.append(("x-amz-content-sha256", payloadHash)) }
        added.append(("Authorization", "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope), SignedHeaders=\(names), Signature=\(signature)"))
        return added
    }

    /// `20130524T000000Z`.
    public static func timestamp(_ time: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: time)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    public static let emptyPayloadHash = sha256Hex([])

    public static func sha256Hex(_ bytes: [UInt8]) -> String { Hex.encode(Hasher256.hash(.sha256, bytes)) }

    static func hmac(_ key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        KeyedHash(.sha256, key: SecretKey(bytes: key)).mac(message)
    }

    static func trim(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    /// RFC 3986 unreserved characters stay; everything else is %XX (upper case).
    public static func encode(_ text: String, keepSlash: Bool = false) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    public static func encodePath(_ path: String) -> String { encode(path, keepSlash: true) }

    public static func canonicalQuery(_ query: [(String, String)]) -> String {
        let encoded: [(name: String, value: String)] = query.map { (encode($0.0), encode($0.1)) }
        let sorted = encoded.sorted { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        return sorted.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
    }
}
