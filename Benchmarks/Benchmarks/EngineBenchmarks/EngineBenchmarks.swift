// Engine benchmarks: full request life cycles on a 4-hop line, all five engines in one process.
// Run from Benchmarks/: `swift package benchmark --target EngineBenchmarks`.
// The committed thresholds say: not one heap allocation in the measured life cycles, nor in the
// contended rounds (two ends reserving at once, conflicts, yields, multipath, link state).
import AKRPEngine
import AKRPSimulation
import Benchmark

/// One driver for every sample: setup and warm-up allocate (tables, pools, first use); the measured
/// life cycles must not.
nonisolated(unsafe) let sharedDriver: LifecycleBench = {
    let d = try! LifecycleBench(hops: 4, unitsPerRequest: 8)
    for _ in 0..<2_000 { d.runOneRequest() }
    return d
}()

/// The contended driver: two ends reserving at once on every link (CD&R conflicts), yields at commit,
/// multipath and link state on. Its first 300 rounds warm up (tables, first use of every path).
nonisolated(unsafe) let contendedDriver: ContendedBench = {
    let d = try! ContendedBench()
    for _ in 0..<300 { d.runOneRound() }
    return d
}()

let benchmarks: @Sendable () -> Void = {
    Benchmark(
        "request-lifecycle-4-hops-8-units",
        configuration: .init(
            metrics: [.mallocCountTotal, .throughput, .wallClock],
            scalingFactor: .kilo,
            maxDuration: .seconds(5),
            maxIterations: 200,
            thresholds: [.mallocCountTotal: .init(absolute: [.p0: 0, .p50: 0, .p90: 0, .p99: 0, .p100: 0])]
        )
    ) { benchmark in
        let driver = sharedDriver
        var events = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            events &+= driver.runOneRequest()
        }
        benchmark.stopMeasurement()
        blackHole(events)
    }

    Benchmark(
        "contended-ring-2-paths-link-state",
        configuration: .init(
            metrics: [.mallocCountTotal, .throughput, .wallClock],
            scalingFactor: .one,
            maxDuration: .seconds(5),
            maxIterations: 200,
            thresholds: [.mallocCountTotal: .init(absolute: [.p0: 0, .p50: 0, .p90: 0, .p99: 0, .p100: 0])]
        )
    ) { benchmark in
        // One iteration: two crossing requests and 100 ms of network time (about 200 input events).
        let driver = contendedDriver
        var events = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            events &+= driver.runOneRound()
        }
        benchmark.stopMeasurement()
        blackHole(events)
    }
}
