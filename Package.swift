// swift-tools-version:6.1
// The akrp package: the AKRP protocol engine, its wire codec, the QKD device layer,
// the relay daemon, the companion tool and the network simulator.
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// Deliberate engine faults (`EngineMutation`) that the invariant checkers must catch: compiled into
/// debug builds (so `swift test` replays them), never into release builds.
let mutations: [SwiftSetting] = strict + [.define("AKRP_MUTATIONS", .when(configuration: .debug))]

/// The engine's release build skips the run-time exclusivity checks on its class properties: they cost
/// about a quarter of the engine's time per event (`swift_beginAccess` in a profile of
/// `akrp-sim engine-bench`). Debug builds — `swift test`, the chaos and exhaustive checks — keep them,
/// so an overlapping access is still caught there.
let engineSettings: [SwiftSetting] =
    mutations + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

var targets: [Target] = [
    // MARK: engine (issue 2) — pure Swift, no Foundation, no I/O
    .target(name: "AKRPEngine", swiftSettings: engineSettings),
    .target(name: "AKRPSimulation", dependencies: ["AKRPEngine", "AKRPKeySource"], swiftSettings: mutations),
    .executableTarget(
        name: "akrp-sim",
        dependencies: [
            "AKRPEngine", "AKRPSimulation",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        swiftSettings: strict),
    .testTarget(name: "AKRPEngineTests", dependencies: ["AKRPEngine"], swiftSettings: strict),
    // Running the package's executables from the tests (one helper for every test target that does).
    .target(name: "AKRPTestSupport", path: "Tests/AKRPTestSupport", swiftSettings: strict),
    .testTarget(
        name: "AKRPSimulationTests", dependencies: ["AKRPEngine", "AKRPSimulation", "AKRPTestSupport"],
        swiftSettings: mutations),

    // MARK: companion tool (shared by issues 4 and 5): tools/akrpctl
    .executableTarget(
        name: "akrpctl",
        dependencies: [
            "AKRPEngine", "AKRPWire",
            "AKRPDevice", "AKRPKeySource", "AKRPConfig", "AKRPManagement",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        path: "tools/akrpctl",
        swiftSettings: strict),

    // MARK: wire protocol (issue 4)
    .target(name: "AKRPWire", dependencies: ["AKRPEngine"], swiftSettings: strict),
    .testTarget(
        name: "AKRPWireTests", dependencies: ["AKRPWire", "AKRPEngine", "AKRPSimulation", "AKRPTestSupport"], exclude: ["FailCases"],
        swiftSettings: strict),

    // MARK: device layer (issue 5)
    // C libraries (libusb-1.0, libudev) are reached only through CShims, imported only by AKRPDevice.
    .systemLibrary(
        name: "CLibUSB", path: "CShims/CLibUSB", pkgConfig: "libusb-1.0",
        providers: [.apt(["libusb-1.0-0-dev"])]),
    .systemLibrary(
        name: "CLibUDev", path: "CShims/CLibUDev", pkgConfig: "libudev", providers: [.apt(["libudev-dev"])]),
    .target(name: "CAKRPDeviceShims", dependencies: ["CLibUSB"], path: "CShims/CAKRPDeviceShims"),
    .target(name: "AKRPKeySource", dependencies: ["AKRPEngine"], swiftSettings: strict),
    .target(
        name: "AKRPDevice",
        dependencies: ["AKRPEngine", "AKRPKeySource", "CLibUSB", "CLibUDev", "CAKRPDeviceShims"],
        swiftSettings: strict),
    .testTarget(
        name: "AKRPKeySourceTests", dependencies: ["AKRPEngine", "AKRPKeySource", "AKRPSimulation"],
        swiftSettings: strict),
    .testTarget(
        name: "AKRPDeviceTests", dependencies: ["AKRPEngine", "AKRPKeySource", "AKRPDevice", "AKRPTestSupport"],
        swiftSettings: strict),
    // MARK: the relay box (issue 9): configuration, the box shell around one engine, the daemon
    .target(name: "AKRPConfig", dependencies: ["AKRPEngine", "AKRPKeySource"], swiftSettings: strict),
    .testTarget(
        name: "AKRPConfigTests", dependencies: ["AKRPConfig", "AKRPEngine", "AKRPTestSupport"], swiftSettings: strict),
    .target(
        name: "AKRPNode",
        dependencies: [
            "AKRPEngine", "AKRPWire", "AKRPKeySource", "AKRPDevice", "AKRPConfig", "AKRPManagement", "CAKRPTerminal",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Crypto", package: "swift-crypto"),
        ],
        swiftSettings: strict),
    .executableTarget(
        name: "akrpd",
        dependencies: [
            "AKRPNode", "AKRPConfig", "AKRPKeyDelivery",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ],
        swiftSettings: strict),
    .testTarget(
        name: "AKRPNodeTests",
        dependencies: ["AKRPNode", "AKRPConfig", "AKRPEngine", "AKRPWire", "AKRPKeySource", "AKRPDevice"],
        swiftSettings: strict),
    // MARK: management (issue 10): SMP (MCUmgr) core, sans-I/O — CBOR, header, serial framing, dispatch, MCUboot container
    .target(name: "AKRPManagement", dependencies: ["AKRPKeySource"], swiftSettings: strict),
    .target(name: "CAKRPTerminal", path: "CShims/CAKRPTerminal"),
    .testTarget(name: "AKRPManagementTests", dependencies: ["AKRPManagement"], exclude: ["FailCases"], swiftSettings: strict),
    // MARK: key delivery to applications (issue 11): ETSI GS QKD 014 over mutual TLS, key stocks, metrics
    .target(
        name: "AKRPKeyDelivery",
        dependencies: [
            "AKRPNode", "AKRPConfig", "AKRPEngine", "AKRPKeySource",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ],
        swiftSettings: strict),
    .testTarget(
        name: "AKRPKeyDeliveryTests", dependencies: ["AKRPKeyDelivery", "AKRPConfig", "AKRPEngine", "AKRPNode"],
        swiftSettings: strict),
    .executableTarget(
        name: "akrp-bench-usb", dependencies: ["AKRPEngine", "AKRPKeySource", "AKRPDevice"], path: "tools/bench-usb",
        exclude: ["run"], swiftSettings: strict),
]

let package = Package(
    name: "akrp",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "AKRPEngine", targets: ["AKRPEngine"]),
        .library(name: "AKRPSimulation", targets: ["AKRPSimulation"]),
        .library(name: "AKRPWire", targets: ["AKRPWire"]),
        .executable(name: "akrp-sim", targets: ["akrp-sim"]),
        .executable(name: "akrpctl", targets: ["akrpctl"]),
        .executable(name: "akrpd", targets: ["akrpd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // management (issue 10): ED25519 signatures of configuration images
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // key delivery (issue 11)
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: targets
)
