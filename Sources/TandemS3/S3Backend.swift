import Foundation
import NIOHTTP1
import TandemCodecs
import TandemStore

/// A ``TandemStore/Backend`` on any S3-compatible object store (path-style addressing,
/// SigV4, plain HTTP or TLS), tested against a real Ceph RADOS Gateway 16.2.
///
/// - Create-only writes use `If-None-Match: *` (a 412 means the object exists); objects
///   above the multipart threshold are uploaded in parts, and since RGW 16.2 ignores that
///   header on CompleteMultipartUpload, existence is checked first (content-addressed packs
///   make the remaining race harmless).
/// - With ``S3Configuration/objectLockDays``, every object is written with COMPLIANCE-mode
///   retention (and the `Content-MD5` such writes need), so not even the store's own
///   credentials can delete or shorten it before then; a delete only adds a delete marker.
/// - Listings page through ListObjectsV2; a truncated page without a continuation token is
///   an error, never a silently short list.
/// - Locks are lock objects (`PATH/shared-ID`, `PATH/exclusive-ID`) written create-only and
///   checked after writing; a lock older than ``lockStaleAfter`` is treated as left by a
///   crashed process.
/// - Upload pieces wait in a local staging file, so a pack is never held in memory whole.
public struct S3Backend: Backend {
    public let configuration: S3Configuration
    let client: S3Client
    /// A lock object this old is stale (its holder crashed without releasing it).
    public var lockStaleAfter: TimeInterval = 24 * 3600

    public init(configuration: S3Configuration) {
        self.configuration = configuration
        client = S3Client(configuration: configuration)
    }

    // MARK: Objects

    public func write(_ path: String, _ bytes: [UInt8], overwrite: Bool) async throws {
        if bytes.count > configuration.multipartThreshold {
            if !overwrite, try await exists(path) { throw BackendError.alreadyExists(path) }
            try await MultipartUpload.send(bytes: { offset, length in Array(bytes[offset..<min(bytes.count, offset + length)]) },
                                           size: bytes.count, key: configuration.key(path), path: path, backend: self)
            return
        }
        var headers = lockHeaders(for: bytes)
        if !overwrite { headers.append(("if-none-match", "*")) }
        let response = try await client.send(.PUT, key: configuration.key(path), headers: headers, body: bytes, path: path)
        guard (200..<300).contains(response.status) else { throw S3Error.backendError(response, path: path, operation: "PUT") }
    }

    /// Object-lock headers (and the Content-MD5 the store then requires), or none.
    func lockHeaders(for bytes: [UInt8]?) -> [(String, String)] {
        guard let days = configuration.objectLockDays else { return [] }
        let until = Date().addingTimeInterval(Double(days) * 86400)
        var headers = [("x-amz-object-lock-mode", "COMPLIANCE"),
                       ("x-amz-object-lock-retain-until-date", until.formatted(Date.ISO8601FormatStyle()))]
        if let bytes { headers.append(("content-md5", ContentMD5.header(bytes))) }
        return headers
    }

    public func read(_ path: String) async throws -> [UInt8] {
        let response = try await client.send(.GET, key: configuration.key(path), path: path, maximumResponse: 6 << 30)
        guard response.status == 200 else { throw S3Error.backendError(response, path: path, operation: "GET") }
        if let declared = response.headers.first(name: "content-length").flatMap(Int.init), declared != response.body.count {
            throw BackendError.shortRead(path)
        }
        return response.body
    }

    public func read(_ path: String, offset: Int, length: Int) async throws -> [UInt8] {
        guard length > 0 else { return [] }
        let response = try await client.send(.GET, key: configuration.key(path),
                                             headers: [("range", "bytes=\(offset)-\(offset + length - 1)")], path: path,
                                             maximumResponse: length + 4096)
        switch response.status {
        case 206:
            guard response.body.count == length else { throw BackendError.shortRead(path) }
            return response.body
        case 200:
            // A store that ignores Range sends the whole object.
            guard response.body.count >= offset + length else { throw BackendError.shortRead(path) }
            return Array(response.body[offset..<offset + length])
        default:
            throw S3Error.backendError(response, path: path, operation: "GET range")
        }
    }

    public func size(_ path: String) async throws -> Int {
        let response = try await client.send(.HEAD, key: configuration.key(path), path: path)
        guard response.status == 200 else { throw S3Error.backendError(response, path: path, operation: "HEAD") }
        guard let size = response.headers.first(name: "content-length").flatMap(Int.init) else {
            throw BackendError.io(path, "S3 HEAD answered without a Content-Length")
        }
        return size
    }

    public func exists(_ path: String) async throws -> Bool {
        let response = try await client.send(.HEAD, key: configuration.key(path), path: path)
        switch response.status {
        case 200: return true
        case 404: return false
        default: throw S3Error.backendError(response, path: path, operation: "HEAD")
        }
    }

    public func delete(_ path: String) async throws {
        let response = try await client.send(.DELETE, key: configuration.key(path), path: path)
        guard (200..<300).contains(response.status) || response.status == 404 else {
            throw S3Error.backendError(response, path: path, operation: "DELETE")
        }
    }

    public func list(_ prefix: String) async throws -> [String] {
        try await listObjects(prefix).map(\.path)
    }

    /// Every object below `prefix`, with its store-side modification time.
    func listObjects(_ prefix: String) async throws -> [(path: String, modified: Date?)] {
        let keyPrefix = prefix.isEmpty ? configuration.key("") : configuration.key(prefix.hasSuffix("/") ? prefix : prefix + "/")
        var token: String?
        var found: [(path: String, modified: Date?)] = []
        repeat {
            var query = [("list-type", "2"), ("prefix", keyPrefix), ("max-keys", "1000")]
            if let token { query.append(("continuation-token", token)) }
            let response = try await client.send(.GET, key: nil, query: query, path: prefix)
            guard response.status == 200 else { throw S3Error.backendError(response, path: prefix, operation: "ListObjectsV2") }
            guard let page = S3Listing.parse(response.body) else {
                throw BackendError.io(prefix, "S3 ListObjectsV2 answered something that is not a listing")
            }
            for item in page.keys {
                if let path = configuration.path(forKey: item.key) { found.append((path, item.modified)) }
            }
            if page.truncated {
                guard let next = page.continuationToken, next != token else {
                    throw BackendError.io(prefix, "S3 listing is truncated but gives no (new) continuation token")
                }
                token = next
            } else {
                token = nil
            }
        } while token != nil
        return found.sorted { $0.path < $1.path }
    }

    // MARK: Uploads

    public func makeUpload(in folder: String) throws -> any BackendUpload {
        try StagedUpload(backend: self)
    }

    public func removeIncompleteWrites(_ prefix: String, olderThan cutoff: Date) async throws -> Int {
        var removed = 0
        let keyPrefix = configuration.key(prefix.isEmpty ? "" : prefix + "/")
        let response = try await client.send(.GET, key: nil, query: [("uploads", ""), ("prefix", keyPrefix)], path: prefix)
        guard response.status == 200, let listing = XMLNode.parse(response.body) else {
            throw S3Error.backendError(response, path: prefix, operation: "ListMultipartUploads")
        }
        for upload in listing.all("Upload") {
            guard let key = upload.value("Key"), let id = upload.value("UploadId"),
                  let initiated = upload.value("Initiated").flatMap(S3Listing.parseTime), initiated < cutoff else { continue }
            let abort = try await client.send(.DELETE, key: key, query: [("uploadId", id)], path: key)
            if (200..<300).contains(abort.status) || abort.status == 404 { removed += 1 }
        }
        removed += StagedUpload.removeStaleStagingFiles(in: configuration.stagingDirectory, olderThan: cutoff)
        return removed
    }

    // MARK: Locks

    public func lock(_ path: String, exclusive: Bool) async throws -> BackendLock {
        let now = Date()
        let live = try await listObjects(path).filter { object in
            guard let modified = object.modified else { return true }
            return now.timeIntervalSince(modified) < lockStaleAfter
        }
        func conflicts(_ objects: [(path: String, modified: Date?)], except mine: String?) -> Bool {
            let others = objects.filter { $0.path != mine }
            return exclusive ? !others.isEmpty : others.contains { ($0.path as NSString).lastPathComponent.hasPrefix("exclusive-") }
        }
        if conflicts(live, except: nil) { throw BackendError.locked(path) }
        let name = "\(path)/\(exclusive ? "exclusive" : "shared")-\(UUID().uuidString.lowercased())"
        let note = Array("{\"host\":\"\(ProcessInfo.processInfo.hostName)\",\"pid\":\(getpid())}".utf8)
        let response = try await client.send(.PUT, key: configuration.key(name), headers: [("if-none-match", "*")], body: note, path: name)
        guard (200..<300).contains(response.status) else { throw S3Error.backendError(response, path: name, operation: "PUT lock") }
        // Another process may have locked at the same moment: look again, and back off if so.
        let after = try await listObjects(path).filter { object in
            guard let modified = object.modified else { return true }
            return now.timeIntervalSince(modified) < lockStaleAfter
        }
        if conflicts(after, except: name) {
            try? await delete(name)
            throw BackendError.locked(path)
        }
        return S3Lock(backend: self, name: name)
    }
}

/// A held lock object; released by deleting it.
struct S3Lock: BackendLock {
    let backend: S3Backend
    let name: String

    func release() async { try? await backend.delete(name) }
}
