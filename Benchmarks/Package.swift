// swift-tools-version:6.1
// Benchmarks live in their own package so that the main build and `swift test` do not build
// ordo-one/benchmark. Run: `cd Benchmarks && swift package benchmark` (see the README).
import PackageDescription

let package = Package(
    name: "akrp-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // MARK: engine benchmarks (issue 2)

        // MARK: wire benchmarks (issue 4)
    ]
)
