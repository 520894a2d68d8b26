// swift-tools-version:6.1
// The akrp package: the AKRP protocol engine, its wire codec, the QKD device layer,
// the relay daemon, the companion tool and the network simulator.
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

var targets: [Target] = [
    // MARK: engine (issue 2) — pure Swift, no Foundation, no I/O
    .target(name: "AKRPEngine", swiftSettings: strict),
    .target(name: "AKRPSimulation", dependencies: ["AKRPEngine"], swiftSettings: strict),
    .executableTarget(
        name: "akrp-sim",
        dependencies: [
            "AKRPEngine", "AKRPSimulation",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        swiftSettings: strict),
    .testTarget(name: "AKRPEngineTests", dependencies: ["AKRPEngine"], swiftSettings: strict),
    .testTarget(
        name: "AKRPSimulationTests", dependencies: ["AKRPEngine", "AKRPSimulation"], swiftSettings: strict),

    // MARK: companion tool (shared by issues 4 and 5): tools/akrpctl
    .executableTarget(
        name: "akrpctl",
        dependencies: [
            "AKRPEngine",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        path: "tools/akrpctl",
        swiftSettings: strict),

    // MARK: wire protocol (issue 4)

    // MARK: device layer (issue 5)
]

let package = Package(
    name: "akrp",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "AKRPEngine", targets: ["AKRPEngine"]),
        .executable(name: "akrp-sim", targets: ["akrp-sim"]),
        .executable(name: "akrpctl", targets: ["akrpctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: targets
)
