// swift-tools-version:6.1
// Benchmarks live in their own package so that the main build and `swift test` do not build
// ordo-one/benchmark. Run: `cd Benchmarks && swift package benchmark` (see the README).
import PackageDescription

/// The `..` dependency is named after its folder (`main` here, other names in other clones).
let root: String = Context.packageDirectory.split(separator: "/").dropLast().last.map { $0.lowercased() } ?? "akrp"

let package = Package(
    name: "akrp-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // MARK: engine benchmarks (issue 2)
        .executableTarget(
            name: "EngineBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "AKRPEngine", package: root),
                .product(name: "AKRPSimulation", package: root),
            ],
            path: "Benchmarks/EngineBenchmarks",
            exclude: ["Thresholds"],
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),

        // MARK: wire benchmarks (issue 4)
        .executableTarget(
            name: "WireBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                // The `..` dependency is named after its folder (`main` here, other names in other clones).
                .product(name: "AKRPWire", package: root),
                .product(name: "AKRPEngine", package: root),
            ],
            path: "Benchmarks/WireBenchmarks",
            exclude: ["README.md", "Thresholds"],
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
