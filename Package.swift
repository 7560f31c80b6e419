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
        .target(name: "SpoolSystem", dependencies: ["CSpoolShims"], swiftSettings: swiftSettings),
        .target(name: "SpoolJSON", swiftSettings: swiftSettings),
        .target(name: "SpoolKit", dependencies: ["SpoolSystem", "SpoolJSON"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "spool", dependencies: ["SpoolKit", "SpoolSystem", "SpoolJSON"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "spool-bench", dependencies: ["SpoolKit", "SpoolSystem", "SpoolJSON"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SpoolKitTests", dependencies: ["SpoolKit", "SpoolSystem", "SpoolJSON"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SpoolBenchTests", dependencies: ["spool-bench", "SpoolKit", "SpoolSystem", "SpoolJSON"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "SpoolCLITests",
            dependencies: ["SpoolKit", "SpoolSystem", "SpoolJSON", "spool", "spool-bench"],
            swiftSettings: swiftSettings
        ),
    ]
)
