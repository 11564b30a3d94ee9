import Foundation
import Testing
import TandemCore
import TandemStore
import TandemTestSupport
@testable import TandemS3

/// The S3 backend against a real Ceph RADOS Gateway on loopback (`make test` starts one with
/// scripts/ceph/rgw-start.sh and exports S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION;
/// with TANDEM_REQUIRE_S3=1, as `make test` sets, a missing gateway fails the run instead of
/// skipping these tests).
@Suite(.serialized) struct S3BackendTests {
    static let environment = ProcessInfo.processInfo.environment
    static let available = environment["S3_ENDPOINT"] != nil

    static func configuration(bucket: String, prefix: String = "repo") -> S3Configuration {
        S3Configuration(endpoint: environment["S3_ENDPOINT"] ?? "", bucket: bucket, prefix: prefix,
                        region: environment["S3_REGION"] ?? "default", accessKey: environment["S3_ACCESS_KEY"] ?? "",
                        secretKey: environment["S3_SECRET_KEY"] ?? "")
    }

    static func freshBucket(objectLock: Bool = false, prefix: String = "repo") async throws -> S3Backend {
        let backend = S3Backend(configuration: configuration(bucket: "tandem-test-\(UUID().uuidString.prefix(8).lowercased())", prefix: prefix))
        try await backend.createBucketIfMissing(objectLock: objectLock)
        return backend
    }

    @Test func theGatewayIsThereWhenRequired() {
        if Self.environment["TANDEM_REQUIRE_S3"] == "1" {
            #expect(Self.available, "TANDEM_REQUIRE_S3=1 but S3_ENDPOINT is not set: the Ceph gateway did not start")
        }
    }

    @Test(.enabled(if: available, "no S3 gateway (set S3_ENDPOINT; make test starts one)"))
    func s3MeetsTheBackendContract() async throws {
        let backend = try await Self.freshBucket()
        try await BackendConformance(name: "s3", backend: backend).runAll()
        // The same contract with no key prefix (objects at the bucket's root).
        let bare = try await Self.freshBucket(prefix: "")
        try await BackendConformance(name: "s3-bare", backend: bare).writeReadListDelete()
    }

    @Test(.enabled(if: available, "no S3 gateway"))
    func largeObjectsGoInParts() async throws {
        var backend = try await Self.freshBucket()
        var configuration = backend.configuration
        configuration.multipartThreshold = 6 << 20
        configuration.partSize = 5 << 20
        // Its own staging folder: the sweep below must not take other tests' staged uploads.
        configuration.stagingDirectory = NSTemporaryDirectory() + "tandem-s3-staging-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: configuration.stagingDirectory) }
        backend = S3Backend(configuration: configuration)
        let conformance = BackendConformance(name: "s3-multipart", backend: backend)
        try await conformance.uploadsAssemblePiecesInAnyOrder(size: 13 << 20, piece: 1 << 20)
        let bytes = (0..<(7 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await backend.write("direct/big", bytes, overwrite: false)
        expectSameBytes(try await backend.read("direct/big"), bytes)
        await #expect(throws: BackendError.alreadyExists("direct/big")) { try await backend.write("direct/big", bytes, overwrite: false) }
        // A multipart upload a crash abandoned (initiated, never completed) is swept once;
        // the completed ones above are not uploads any more.
        let abandoned = try await backend.client.send(.POST, key: configuration.key("direct/abandoned"), query: [("uploads", "")],
                                                      path: "direct/abandoned")
        #expect(abandoned.status == 200)
        #expect(try await backend.removeIncompleteWrites("", olderThan: Date().addingTimeInterval(-3600)) == 0)
        #expect(try await backend.removeIncompleteWrites("", olderThan: Date().addingTimeInterval(3600)) == 1)
        #expect(try await backend.removeIncompleteWrites("", olderThan: Date().addingTimeInterval(3600)) == 0)
    }

    @Test(.enabled(if: available, "no S3 gateway"))
    func aWrongSecretIsRefusedClearly() async throws {
        let good = try await Self.freshBucket()
        var configuration = good.configuration
        configuration.secretKey = "wrong-secret"
        let bad = S3Backend(configuration: configuration)
        do {
            _ = try await bad.list("x")
            Issue.record("a wrong secret was accepted")
        } catch let error as BackendError {
            #expect(error.description.contains("SignatureDoesNotMatch") || error == .permissionDenied("x"), "\(error)")
        }
    }

    /// With object lock, objects are written in COMPLIANCE mode: their versions cannot be
    /// deleted, not even with the store's own credentials.
    @Test(.enabled(if: available, "no S3 gateway"))
    func objectLockedVersionsCannotBeDeleted() async throws {
        let plain = try await Self.freshBucket(objectLock: true)
        var configuration = plain.configuration
        configuration.objectLockDays = 1
        let locked = S3Backend(configuration: configuration)
        try await locked.write("packs/ab/locked", Array("immutable".utf8), overwrite: false)
        let versions = try await locked.versions(of: "packs/ab/locked")
        #expect(versions.count == 1)
        let status = try await locked.deleteVersion("packs/ab/locked", version: versions[0])
        #expect(status == 403, "deleting a COMPLIANCE-locked version answered \(status)")
        #expect(try await locked.read("packs/ab/locked") == Array("immutable".utf8))
    }

    /// A policy that demands object lock is refused, clearly, on a bucket made without it.
    @Test(.enabled(if: available, "no S3 gateway"))
    func aBucketWithoutObjectLockIsRefusedWhenTheConfigDemandsIt() async throws {
        var unlocked = try await Self.freshBucket(objectLock: false).configuration
        unlocked.objectLockDays = 30
        do {
            try await S3Backend(configuration: unlocked).verifyObjectLock()
            Issue.record("a bucket without object lock passed")
        } catch {
            #expect("\(error)".contains("has no object lock") && "\(error)".contains(unlocked.bucket), "\(error)")
        }
        var locked = try await Self.freshBucket(objectLock: true).configuration
        locked.objectLockDays = 30
        try await S3Backend(configuration: locked).verifyObjectLock()
    }

    /// A repository on S3: a tenant's backup, restore and check, with the index cached locally.
    @Test(.enabled(if: available, "no S3 gateway"))
    func aRepositoryLivesOnS3() async throws {
        let backend = try await Self.freshBucket()
        let cache = NSTemporaryDirectory() + "tandem-s3-cache-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: cache) }
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        let repository = try await Repository.initialize(backend: backend, now: Date())
        let secret = KeySecret.keyFile(Array(repeating: 7, count: 32))
        let tenant = try await TenantRepository.create(in: repository, name: "t1", suite: .aes256gcm, chunker: .defaultCDC,
                                                       compression: .default, secret: secret, now: Date(),
                                                       indexPath: cache + "/t1.sqlite")
        let source = cache + "/image.bin"
        let bytes = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: ($0 * 7919) >> 3) }
        try Data(bytes).write(to: URL(fileURLWithPath: source))
        let result = try await tenant.backup(.stream(path: source), options: BackupOptions(), now: Date())
        let reopened = try await TenantRepository.open(in: try await Repository.open(backend: backend), name: "t1", secret: secret,
                                                       indexPath: cache + "/t1-again.sqlite")
        let report = try await reopened.check(readData: true)
        #expect(report.ok, "\(report.problems)")
        _ = try await reopened.restore(result.snapshotID, to: .path(cache + "/restored.bin"), options: RestoreOptions())
        expectSameBytes(FileManager.default.contents(atPath: cache + "/restored.bin"), bytes)
    }
}
