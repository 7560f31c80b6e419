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
    ],
    targets: [
        .target(name: "CSpoolShims"),
        .target(name: "SpoolJSON", swiftSettings: swiftSettings),
        .target(name: "SpoolKit", dependencies: ["CSpoolShims", "SpoolJSON"], swiftSettings: swiftSettings),
        .executableTarget(name: "spool", dependencies: ["SpoolKit", "SpoolJSON"], swiftSettings: swiftSettings),
        .testTarget(name: "SpoolKitTests", dependencies: ["SpoolKit", "SpoolJSON"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SpoolCLITests",
            dependencies: ["SpoolKit", "SpoolJSON", "spool"],
            swiftSettings: swiftSettings
        ),
    ]
)
