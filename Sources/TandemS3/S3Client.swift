import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TandemStore

/// One S3 request's answer.
struct S3Response: Sendable {
    let status: Int
    let headers: HTTPHeaders
    let body: [UInt8]
}

/// Signed S3 requests over AsyncHTTPClient, retried with exponential back-off and jitter on
/// 5xx answers, timeouts and broken connections (never on 4xx: those are answers, not
/// accidents). Every error names the object and what the store said.
struct S3Client: Sendable {
    let configuration: S3Configuration
    let signer: SigV4Signer
    let http: HTTPClient

    init(configuration: S3Configuration, http: HTTPClient = .shared) {
        self.configuration = configuration
        self.http = http
        signer = SigV4Signer(accessKey: configuration.accessKey, secretKey: configuration.secretKey, region: configuration.region)
    }

    /// Sends a request for `key` (nil: the bucket itself). `path` names the object in errors.
    func send(_ method: HTTPMethod, key: String?, query: [(String, String)] = [], headers extra: [(String, String)] = [],
              body: [UInt8] = [], path: String, maximumResponse: Int = 64 << 20,
              time: @Sendable () -> Date = Date.init) async throws -> S3Response {
        let objectPath = "/" + configuration.bucket + (key.map { "/" + $0 } ?? "")
        let payloadHash = SigV4Signer.sha256Hex(body)
        var attempt = 0
        var delay = configuration.initialBackoff
        while true {
            attempt += 1
            var headers: [(String, String)] = [("host", configuration.host)] + extra
            if !body.isEmpty || method == .PUT || method == .POST { headers.append(("content-length", String(body.count))) }
            let signed = signer.sign(method: method.rawValue, path: objectPath, query: query, headers: headers,
                                     payloadHash: payloadHash, time: time())
            let queryText = SigV4Signer.canonicalQuery(query)
            var request = HTTPClientRequest(url: configuration.endpoint + SigV4Signer.encodePath(objectPath)
                                            + (queryText.isEmpty ? "" : "?" + queryText))
            request.method = method
            for (name, value) in headers + signed where name != "host" { request.headers.replaceOrAdd(name: name, value: value) }
            if !body.isEmpty { request.body = .bytes(ByteBuffer(bytes: body)) }
            let outcome: Result<S3Response, any Error>
            do {
                let response = try await http.execute(request, timeout: .seconds(Int64(configuration.timeout)))
                let collected = try await response.body.collect(upTo: maximumResponse)
                outcome = .success(S3Response(status: Int(response.status.code), headers: response.headers,
                                              body: Array(collected.readableBytesView)))
            } catch {
                outcome = .failure(error)
            }
            switch outcome {
            case .success(let response) where response.status < 500:
                return response
            case .success(let response) where attempt >= configuration.attempts:
                throw BackendError.io(path, "S3 \(method) answered \(response.status) \(S3Error.describe(response.body)) after \(attempt) attempts")
            case .failure(let error) where attempt >= configuration.attempts:
                throw BackendError.io(path, "S3 \(method) failed after \(attempt) attempts: \(error)")
            case .failure(let error) where error is CancellationError:
                throw error
            default:
                try await Task.sleep(for: .seconds(delay * Double.random(in: 0.5...1.5)))
                delay = min(delay * 2, 8)
            }
        }
    }
}

/// S3's error document: `<Error><Code>…</Code><Message>…</Message></Error>`.
enum S3Error {
    static func code(_ body: [UInt8]) -> String? { XMLNode.parse(body)?.value("Code") }

    static func describe(_ body: [UInt8]) -> String {
        guard let error = XMLNode.parse(body), error.name == "Error" else { return body.isEmpty ? "" : "(no S3 error document)" }
        return [error.value("Code"), error.value("Message")].compactMap { $0 }.joined(separator: ": ")
    }

    /// Maps a final non-2xx answer to a backend error for `path`.
    static func backendError(_ response: S3Response, path: String, operation: String) -> BackendError {
        switch response.status {
        case 404: .notFound(path)
        case 412: .alreadyExists(path)
        case 416: .shortRead(path)
        case 403: code(response.body) == "AccessDenied" || code(response.body) == nil
            ? .permissionDenied(path) : .io(path, "S3 \(operation): 403 \(describe(response.body))")
        default: .io(path, "S3 \(operation): HTTP \(response.status) \(describe(response.body))")
        }
    }
}
