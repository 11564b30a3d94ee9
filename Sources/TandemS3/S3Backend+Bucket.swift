import Foundation
import TandemStore

extension S3Backend {
    /// Creates the bucket if it does not exist; with `objectLock` it is created with object
    /// lock enabled (which S3 allows only at creation). An existing bucket is left as it is.
    public func createBucketIfMissing(objectLock: Bool) async throws {
        let probe = try await client.send(.HEAD, key: nil, path: configuration.bucket)
        if probe.status == 200 { return }
        var headers: [(String, String)] = []
        if objectLock { headers.append(("x-amz-bucket-object-lock-enabled", "true")) }
        let body = configuration.region == "us-east-1" || configuration.region == "default" ? [] : Array(
            "<CreateBucketConfiguration><LocationConstraint>\(xmlEscape(configuration.region))</LocationConstraint></CreateBucketConfiguration>".utf8)
        let created = try await client.send(.PUT, key: nil, headers: headers, body: body, path: configuration.bucket)
        guard (200..<300).contains(created.status) || S3Error.code(created.body) == "BucketAlreadyOwnedByYou" else {
            throw S3Error.backendError(created, path: configuration.bucket, operation: "CreateBucket")
        }
    }

    /// With ``S3Configuration/objectLockDays`` set, checks that the bucket has object lock
    /// enabled (GetObjectLockConfiguration), and throws a clear error when it has not: writes
    /// that ask for retention would otherwise fail one by one, or be stored unprotected.
    public func verifyObjectLock() async throws {
        guard configuration.objectLockDays != nil else { return }
        let response = try await client.send(.GET, key: nil, query: [("object-lock", "")], path: configuration.bucket)
        let enabled = response.status == 200 && XMLNode.parse(response.body)?.value("ObjectLockEnabled") == "Enabled"
        guard enabled else {
            let why = response.status == 200 ? "object lock is not enabled" : (S3Error.code(response.body) ?? "HTTP \(response.status)")
            throw BackendError.permissionDenied("bucket \(configuration.bucket): object_lock_days is set, but the bucket has no object lock (\(why)); object lock can only be enabled when a bucket is created: create a new one with `tandemctl init --object-lock --repo s3:…`")
        }
    }

    /// The versions of one object, newest first (object-lock buckets are versioned).
    func versions(of path: String) async throws -> [String] {
        let key = configuration.key(path)
        let response = try await client.send(.GET, key: nil, query: [("versions", ""), ("prefix", key)], path: path)
        guard response.status == 200, let root = XMLNode.parse(response.body) else {
            throw S3Error.backendError(response, path: path, operation: "ListObjectVersions")
        }
        return root.all("Version").filter { $0.value("Key") == key }.compactMap { $0.value("VersionId") }
    }

    /// Deletes one version of an object: what object lock forbids until the retention ends.
    func deleteVersion(_ path: String, version: String) async throws -> Int {
        try await client.send(.DELETE, key: configuration.key(path), query: [("versionId", version)], path: path).status
    }
}
