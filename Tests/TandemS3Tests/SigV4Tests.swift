import Foundation
import Testing
@testable import TandemS3

/// Known answers from AWS's Signature Version 4 documentation and test suite.
@Suite struct SigV4Tests {
    /// aws-sig-v4-test-suite "get-vanilla": GET / with only host and x-amz-date signed.
    @Test func getVanilla() {
        let signer = SigV4Signer(accessKey: "AKIDEXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                 region: "us-east-1", service: "service")
        let time = Date(timeIntervalSince1970: 1_440_938_160)  // 20150830T123600Z
        let headers = signer.sign(method: "GET", path: "/", query: [], headers: [("Host", "example.amazonaws.com")],
                                  payloadHash: SigV4Signer.emptyPayloadHash, time: time, includeContentHash: false)
        let authorization = headers.first { $0.0 == "Authorization" }?.1
        #expect(SigV4Signer.timestamp(time) == "20150830T123600Z")
        #expect(authorization == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    /// The S3 documentation's "GET Object" example (a range request).
    @Test func s3GetObjectExample() {
        let signer = SigV4Signer(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                 region: "us-east-1")
        let time = Date(timeIntervalSince1970: 1_369_353_600)  // 20130524T000000Z
        let headers = signer.sign(method: "GET", path: "/test.txt", query: [],
                                  headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")],
                                  payloadHash: SigV4Signer.emptyPayloadHash, time: time)
        let authorization = headers.first { $0.0 == "Authorization" }?.1
        #expect(authorization == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    /// The S3 documentation's "GET Bucket (List Objects)" example: query parameters signed.
    @Test func s3ListObjectsExample() {
        let signer = SigV4Signer(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                 region: "us-east-1")
        let headers = signer.sign(method: "GET", path: "/", query: [("max-keys", "2"), ("prefix", "J")],
                                  headers: [("Host", "examplebucket.s3.amazonaws.com")],
                                  payloadHash: SigV4Signer.emptyPayloadHash, time: Date(timeIntervalSince1970: 1_369_353_600))
        #expect(headers.last?.1.hasSuffix("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7") == true)
    }

    @Test func encodingFollowsRFC3986() {
        #expect(SigV4Signer.encode("a b/c~d*e") == "a%20b%2Fc~d%2Ae")
        #expect(SigV4Signer.encodePath("/bucket/tenants/t 1/packs/ab") == "/bucket/tenants/t%201/packs/ab")
        #expect(SigV4Signer.canonicalQuery([("prefix", "a/b"), ("list-type", "2"), ("continuation-token", "x=y")])
                == "continuation-token=x%3Dy&list-type=2&prefix=a%2Fb")
    }
}
