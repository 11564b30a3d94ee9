import Foundation
import Testing
import TandemStore
@testable import TandemS3

/// The S3 client against a misbehaving endpoint: a small Python HTTP server that answers the
/// first N requests with 503 SlowDown, and can send a truncated listing with no continuation
/// token. No gateway needed.
@Suite(.serialized) struct S3FaultTests {
    final class FakeS3 {
        let process = Process()
        let port: Int

        init(failures: Int, listing: String) throws {
            let script = """
            import http.server, sys
            failures = \(failures)
            count = 0
            body = sys.argv[1].encode()
            class H(http.server.BaseHTTPRequestHandler):
                def log_message(self, *a): pass
                def do_GET(self):
                    global count
                    count += 1
                    if count <= failures:
                        b = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
                        self.send_response(503)
                    else:
                        b = body
                        self.send_response(200)
                    self.send_header("Content-Length", str(len(b)))
                    self.end_headers()
                    self.wfile.write(b)
            s = http.server.HTTPServer(("127.0.0.1", 0), H)
            print(s.server_address[1], flush=True)
            s.serve_forever()
            """
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", script, listing]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            var line = Data()
            while !line.contains(0x0A) {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                line += chunk
            }
            port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }

        deinit {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        func backend(attempts: Int) -> S3Backend {
            var configuration = S3Configuration(endpoint: "http://127.0.0.1:\(port)", bucket: "b", prefix: "repo",
                                                accessKey: "a", secretKey: "s")
            configuration.attempts = attempts
            configuration.initialBackoff = 0.01
            return S3Backend(configuration: configuration)
        }
    }

    static let listing = "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>repo/x/one</Key><Size>1</Size></Contents></ListBucketResult>"

    @Test func aShort503StormIsRiddenOut() async throws {
        let fake = try FakeS3(failures: 4, listing: Self.listing)
        #expect(try await fake.backend(attempts: 6).list("x") == ["x/one"])
    }

    @Test func aLong503StormFailsClearly() async throws {
        let fake = try FakeS3(failures: 100, listing: Self.listing)
        do {
            _ = try await fake.backend(attempts: 3).list("x")
            Issue.record("a 503 storm was not reported")
        } catch let error as BackendError {
            #expect(error.description.contains("503 SlowDown: Please reduce your request rate. after 3 attempts"), "\(error)")
        }
    }

    @Test func aTruncatedListingWithoutATokenIsAnErrorNotAShortList() async throws {
        let lying = "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>repo/x/one</Key></Contents></ListBucketResult>"
        let fake = try FakeS3(failures: 0, listing: lying)
        await #expect(throws: BackendError.self) { _ = try await fake.backend(attempts: 1).list("x") }
        let garbage = try FakeS3(failures: 0, listing: "<html>proxy error</html>")
        do {
            _ = try await garbage.backend(attempts: 1).list("x")
            Issue.record("a non-listing was accepted")
        } catch let error as BackendError {
            #expect(error.description.contains("not a listing"), "\(error)")
        }
    }
}
