// swift-tools-version: 6.0
import PackageDescription

/// One settings list for every Swift target: language mode 6 (strict concurrency) everywhere.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "spool",
    products: [
        .library(name: "SpoolKit", targets: ["SpoolKit"]),
        .executable(name: "spool", targets: ["spool"]),
        // The benchmark, its own executable so that `spool` does not link it; `spool bench`
        // runs the one built beside it.
        .executable(name: "spool-bench", targets: ["spool-bench"]),
    ],
    targets: [
        .target(name: "CSpoolShims"),
        .target(name: "SpoolKit", dependencies: ["CSpoolShims"], swiftSettings: swiftSettings),
        .executableTarget(name: "spool", dependencies: ["SpoolKit"], swiftSettings: swiftSettings),
        .executableTarget(name: "spool-bench", dependencies: ["SpoolKit"], swiftSettings: swiftSettings),
        .testTarget(name: "SpoolKitTests", dependencies: ["SpoolKit"], swiftSettings: swiftSettings),
        .testTarget(name: "SpoolBenchTests", dependencies: ["spool-bench", "SpoolKit"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SpoolCLITests",
            dependencies: ["SpoolKit", "spool", "spool-bench"],
            swiftSettings: swiftSettings
        ),
    ]
)
