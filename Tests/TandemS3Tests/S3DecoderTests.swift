import Foundation
import Testing
@testable import TandemS3

/// The XML answers an S3 endpoint (or a hostile proxy in front of one) may send.
@Suite struct S3DecoderTests {
    @Test func aListingPageParses() throws {
        let body = Array("""
        <?xml version="1.0" encoding="UTF-8"?>
        <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
          <Name>b</Name><Prefix>repo/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>
          <Contents><Key>repo/a&amp;b</Key><LastModified>2026-11-26T10:00:00.000Z</LastModified><Size>5</Size></Contents>
          <Contents><Key>repo/c</Key><LastModified>2026-11-26T10:00:01Z</LastModified><Size>7</Size></Contents>
          <NextContinuationToken>1/abc==</NextContinuationToken>
        </ListBucketResult>
        """.utf8)
        let page = try #require(S3Listing.parse(body))
        #expect(page.keys.map(\.key) == ["repo/a&b", "repo/c"])
        #expect(page.keys.map(\.size) == [5, 7])
        #expect(page.truncated && page.continuationToken == "1/abc==")
        #expect(page.keys[0].modified == ControlTime.date("2026-11-26T10:00:00Z"))
    }

    @Test func errorDocumentsAreDescribed() {
        let body = Array("<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".utf8)
        #expect(S3Error.describe(body) == "SlowDown: Please reduce your request rate.")
        #expect(S3Error.code(body) == "SlowDown")
        #expect(S3Error.describe(Array("<html>proxy error</html>".utf8)) == "(no S3 error document)")
    }

    @Test func notAListingIsRefused() {
        #expect(S3Listing.parse(Array("<Error><Code>x</Code></Error>".utf8)) == nil)
        #expect(S3Listing.parse(Array("".utf8)) == nil)
        #expect(S3Listing.parse(Array("<ListBucketResult><Contents>".utf8)) == nil)
    }

    /// Random and mutated documents never trap the decoders.
    @Test func hostileDocumentsNeverTrap() {
        var state: UInt64 = 99
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 17
        }
        let seed = Array("<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>k</Key><Size>1</Size></Contents><NextContinuationToken>t</NextContinuationToken></ListBucketResult>".utf8)
        let deep = Array((String(repeating: "<a>", count: 5000) + String(repeating: "</a>", count: 5000)).utf8)
        #expect(XMLNode.parse(deep) == nil)
        let entity = Array("<!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><ListBucketResult>&b;</ListBucketResult>".utf8)
        #expect(S3Listing.parse(entity) == nil)
        #expect(XMLNode.parse(Array("<a>x &#x1F600; &lt;&amp;&gt; <![CDATA[<raw>]]></a>".utf8))?.text == "x 😀 <&> <raw>")
        #expect(XMLNode.parse([0x3C, 0x61, 0xFA, 0x3E, 0x3C, 0x2F, 0x61, 0xFA, 0x3E]) == nil)
        for _ in 0..<2000 {
            var bytes = seed
            for _ in 0..<(1 + Int(next() % 8)) {
                let at = Int(next() % UInt64(bytes.count))
                switch next() % 3 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: next())
                case 1: bytes.remove(at: at)
                default: bytes.insert(contentsOf: Array("<Contents><Key>".utf8), at: at)
                }
            }
            _ = S3Listing.parse(bytes)
            _ = S3Error.describe(bytes)
        }
    }
}

enum ControlTime {
    static func date(_ text: String) -> Date? { try? Date.ISO8601FormatStyle().parse(text) }
}
