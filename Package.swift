// swift-tools-version:6.0
import PackageDescription

/// Failure points (named crash/fail sites in every write step) exist only in debug builds,
/// which is what `swift test` builds; release binaries never contain them.
let failpoints: [SwiftSetting] = [.define("TANDEM_FAILPOINTS", .when(configuration: .debug))]

let package = Package(
    name: "Tandem",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tandemctl", targets: ["tandemctl"]),
        .executable(name: "tandemd", targets: ["tandemd"]),
        .executable(name: "tandem-bench", targets: ["tandem-bench"]),
        .library(name: "TandemCore", targets: ["TandemCore"]),
        .library(name: "TandemStore", targets: ["TandemStore"]),
        .library(name: "TandemS3", targets: ["TandemS3"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // System-library shims: a modulemap and a small header each.
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLZ4", path: "Sources/CLZ4", pkgConfig: "liblz4",
                       providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CLibCrypto", path: "Sources/CLibCrypto", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CGcrypt", path: "Sources/CGcrypt", pkgConfig: "libgcrypt",
                       providers: [.apt(["libgcrypt20-dev"])]),
        .systemLibrary(name: "CXXHash", path: "Sources/CXXHash", pkgConfig: "libxxhash",
                       providers: [.apt(["libxxhash-dev"])]),
        .systemLibrary(name: "CTandemSystem", path: "Sources/CTandemSystem"),
        // Owning Swift wrappers of the C libraries: no C type escapes this module.
        .target(name: "TandemCodecs", dependencies: ["CZstd", "CLZ4", "CLibCrypto", "CGcrypt", "CXXHash"]),
        // Pure logic: no files, sockets, clocks or globals.
        .target(name: "TandemCore", dependencies: ["TandemCodecs"]),
        // Repositories on backends: packs, index, catalog, snapshots, check, prune.
        .target(name: "TandemStore",
                dependencies: ["TandemCore", "CTandemSystem", .product(name: "GRDB", package: "GRDB.swift")],
                swiftSettings: failpoints),
        // Repositories on S3-compatible object stores: SigV4, XML, paging, multipart, object lock.
        .target(name: "TandemS3",
                dependencies: ["TandemStore", "TandemCore", "TandemCodecs",
                               .product(name: "AsyncHTTPClient", package: "async-http-client"),
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "NIOHTTP1", package: "swift-nio")]),
        // Site links (mutual TLS, framed protocol), heartbeats, shipping to the remote site.
        .target(name: "TandemSites",
                dependencies: ["TandemStore", "TandemCore", "TandemCodecs", "TandemPolicy",
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "NIOPosix", package: "swift-nio"),
                               .product(name: "NIOSSL", package: "swift-nio-ssl"),
                               .product(name: "Logging", package: "swift-log")]),
        // Site links under test: a WAN-imitating proxy (delay, rate, cuts, partitions) and in-process sites (tests and benchmarks only).
        .target(name: "TandemSiteLab",
                dependencies: ["TandemSites", "TandemStore", "TandemCore", "TandemPolicy",
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "NIOPosix", package: "swift-nio")]),
        // Site config and tenant policies: YAML in, validated values out, errors with file:line.
        .target(name: "TandemPolicy", dependencies: ["TandemCore", .product(name: "Yams", package: "Yams")]),
        // The service: scheduler, job runner, control API, metrics, audit log, systemd notify.
        .target(name: "TandemDaemon",
                dependencies: ["TandemStore", "TandemPolicy", "TandemS3", "TandemSites", "CTandemSystem",
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "NIOPosix", package: "swift-nio"),
                               .product(name: "NIOHTTP1", package: "swift-nio"),
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "Metrics", package: "swift-metrics"),
                               .product(name: "Prometheus", package: "swift-prometheus"),
                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                               .product(name: "UnixSignals", package: "swift-service-lifecycle")]),
        .executableTarget(name: "tandemd",
                          dependencies: ["TandemDaemon",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "tandemctl",
                          dependencies: ["TandemStore", "TandemPolicy", "TandemS3",
                                         .product(name: "NIOCore", package: "swift-nio"),
                                         .product(name: "NIOPosix", package: "swift-nio"),
                                         .product(name: "NIOHTTP1", package: "swift-nio"),
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "tandem-bench",
                          dependencies: ["TandemStore", "TandemSites", "TandemSiteLab", "TandemPolicy", "CZstd",
                                         .product(name: "Logging", package: "swift-log"),
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // Helpers shared by the test targets.
        .target(name: "TandemTestSupport", dependencies: ["TandemStore"], path: "Tests/TandemTestSupport"),
        .testTarget(name: "TandemCodecsTests", dependencies: ["TandemCodecs"]),
        .testTarget(name: "TandemCoreTests", dependencies: ["TandemCore"]),
        .testTarget(name: "TandemStoreTests", dependencies: ["TandemStore", "CTandemSystem", "TandemTestSupport",
                                                            .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: failpoints),
        .testTarget(name: "TandemS3Tests", dependencies: ["TandemS3", "TandemStore", "TandemCore", "TandemTestSupport"]),
        .testTarget(name: "TandemSitesTests", dependencies: ["TandemSites", "TandemStore", "TandemCore", "TandemCodecs",
                                                           .product(name: "NIOCore", package: "swift-nio"),
                                                           .product(name: "NIOEmbedded", package: "swift-nio")]),
        .testTarget(name: "TandemPolicyTests", dependencies: ["TandemPolicy", "TandemCore"]),
        .testTarget(name: "TandemDaemonTests", dependencies: ["TandemDaemon", "TandemPolicy", "TandemStore", "TandemTestSupport"]),
        .testTarget(name: "EndToEndTests",
                    dependencies: ["TandemStore", "TandemSites", "TandemS3", "TandemSiteLab", "TandemPolicy", "tandemctl", "tandemd", "TandemTestSupport",
                                   .product(name: "Logging", package: "swift-log")]),
    ],
    swiftLanguageModes: [.v6]
)
