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
        .executable(name: "tandem-bench", targets: ["tandem-bench"]),
        .library(name: "TandemCore", targets: ["TandemCore"]),
        .library(name: "TandemStore", targets: ["TandemStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // System-library shims: a modulemap and a small header each.
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLZ4", path: "Sources/CLZ4", pkgConfig: "liblz4",
                       providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CLibCrypto", path: "Sources/CLibCrypto", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CTandemSystem", path: "Sources/CTandemSystem"),
        // Owning Swift wrappers of the C libraries: no C type escapes this module.
        .target(name: "TandemCodecs", dependencies: ["CZstd", "CLZ4", "CLibCrypto"]),
        // Pure logic: no files, sockets, clocks or globals.
        .target(name: "TandemCore", dependencies: ["TandemCodecs"]),
        // Repositories on backends: packs, index, catalog, snapshots, check, prune.
        .target(name: "TandemStore",
                dependencies: ["TandemCore", "CTandemSystem", .product(name: "GRDB", package: "GRDB.swift")],
                swiftSettings: failpoints),
        .executableTarget(name: "tandemctl",
                          dependencies: ["TandemStore",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "tandem-bench",
                          dependencies: ["TandemStore",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // Helpers shared by the test targets.
        .target(name: "TandemTestSupport", path: "Tests/TandemTestSupport"),
        .testTarget(name: "TandemCodecsTests", dependencies: ["TandemCodecs"]),
        .testTarget(name: "TandemCoreTests", dependencies: ["TandemCore"]),
        .testTarget(name: "TandemStoreTests", dependencies: ["TandemStore", "CTandemSystem", "TandemTestSupport"], swiftSettings: failpoints),
        .testTarget(name: "EndToEndTests", dependencies: ["TandemStore", "tandemctl", "TandemTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
