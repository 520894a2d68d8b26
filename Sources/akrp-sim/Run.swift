import AKRPEngine
import AKRPSimulation
import ArgumentParser
import Foundation

/// `akrp-sim run`: the network simulator comparing AKRP with the contend-and-relay baselines.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulate a QKD network: AKRP (real engines) and baselines on identical arrivals and key streams.",
        discussion: "See docs/SIMULATOR.md for the model, the baselines' rules, and the JSON and trace schemas.")

    @Option(help: "nsfnet | chain32 | grid:RxC | waxman:N | a topology file.") var topology = "nsfnet"
    @Option(help: "Comma-separated: \(ProtocolKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var protocols = "akrp,akrp-multipath,hop-by-hop,rsvp"
    @Option(help: "Offered load relative to the flow bound: X, a list X,Y,…, or a sweep A:B:STEP.") var load = "1.0"
    @Option(help: "Requests arrive during this many simulated seconds.") var duration: Double = 60
    @Option(help: "Simulated seconds after the last arrival for completions.") var drain: Double = 15
    @Option(help: "Seed of topology (waxman), workload and key streams.") var seed: UInt64 = 1
    @Option(help: "Routing policy, or a comma list: shortest, key-aware.") var routing = "key-aware"
    @Option(help: "poisson | ppbp | hotspot.") var workload = "poisson"
    @Option(
        name: .customLong("demand"),
        help: "Demand matrix file: lines 'SOURCE DESTINATION WEIGHT' (node names or numbers); pairs drawn by weight (poisson or ppbp arrivals).")
    var demandFile: String?
    @Option(name: .customLong("request-bits"), help: "Request size in bits (256-bit units).") var requestBits = 256
    @Option(help: "Key delivery: blocks | fluid.") var delivery = "blocks"
    @Option(name: .customLong("block-period"), help: "Mean seconds between key blocks.") var blockPeriod: Double = 2
    @Option(help: "Block period jitter, fraction of the mean (0…0.99).") var jitter: Double = 0.5
    @Option(name: .customLong("pool-capacity"), help: "Key pool units per link end.") var poolCapacity = 4096
    @Option(help: "AKRP records per node.") var records = 1024
    @Option(
        name: .customLong("budget-ms"),
        help: "AKRP latency budget, ms, or a comma list (e.g. 500,1000,2000): each AKRP protocol then runs once per budget, named protocol@Bms, and --plot draws the latency–throughput frontier.")
    var budgetMs = String(EngineConfiguration().latencyBudget / 1_000_000)
    @Option(
        name: .customLong("detour-budget-ms"),
        help: "AKRP: a path longer than the direct one may only take key arriving within this many ms (off = whole budget).")
    var detourBudgetMs = "0"
    @Option(
        name: .customLong("detour-reserve"),
        help: "AKRP: a detour takes delivered key only from links keeping this fraction of a key block free (trunk reservation; 0…10, 0 = none).")
    var detourReserve: Double = EngineConfiguration().detourReserve
    @Option(
        name: .customLong("link-state-radius"),
        help: "AKRP: hops a link-state announcement travels (1…16; 16 = the whole network).")
    var linkStateRadius = 16
    @Flag(
        name: .customLong("adaptive-multipath"),
        help: "AKRP multipath: one branch when the best path has the key, the others only if it fails.")
    var adaptiveMultipath = false
    @Option(
        name: .customLong("eta-deviations"),
        help: "AKRP ETAs plan for key blocks this many typical deviations late (0…10).")
    var etaDeviations: Double = EngineConfiguration().etaDeviations
    @Option(
        name: .customLong("delivered-hold-ms"),
        help: "AKRP: how long a delivered notice may wait for another message to the same neighbour to share its frame (0…10000 ms; 0 = at once).")
    var deliveredHoldMs: Double = Double(EngineConfiguration().deliveredHold) / 1e6
    @Option(
        name: .customLong("link-state-hold-ms"),
        help: "AKRP: how long a link-state announcement may wait for another message to the same neighbour to share its frame; a newer one about the same link replaces it (0…10000 ms; 0 = at once).")
    var linkStateHoldMs: Double = Double(EngineConfiguration().linkStateHold) / 1e6
    @Option(
        name: .customLong("frame-hold-ms"),
        help: "AKRP: how long a reserve, confirm or fail may wait for other messages to the same neighbour to share its frame, on a link whose smoothed interval between frames is at most this (0…10000 ms; 0 = at once).")
    var frameHoldMs: Double = Double(EngineConfiguration().frameHold) / 1e6
    @Option(name: .customLong("link-state-ms"), help: "AKRP link-state refresh, ms (announcements also on level-band changes; 0 = off).") var linkStateMs = Double(EngineConfiguration().linkStateInterval / 1_000_000)
    @Option(name: .customLong("processing-us"), help: "Processing time per message per node, µs.") var processingUs: Double = 50
    @Option(name: .customLong("bound-bps"), help: "Flow bound (bit/s) from tools/flow-bound.py; default: computed here.")
    var boundBps: Double?
    @Option(name: .customLong("rate"), help: "Absolute arrival rate, requests/s (overrides --load).") var rate: Double?
    @Option(
        name: .customLong("app-retry-ms"),
        help: "Applications retry a failed request after this many ms until they hold a key (every protocol alike); adds app_latency_ms, from the first arrival.")
    var appRetryMs: Double?
    @Option(name: .customLong("app-retry-limit"), help: "With --app-retry-ms: most attempts per request.")
    var appRetryLimit = 20
    @Option(name: .customLong("trace-key"), help: "Key trace file (dataset format) driving every link's timing.")
    var traceKey: String?
    @Option(help: "Write the results (JSON array) here.") var json: String?
    @Option(help: "Write one JSON line per request outcome here.") var trace: String?
    @Option(help: "Write SVG plots and summary.md into this directory.") var plot: String?
    @Option(name: .customLong("scenario-out"), help: "Write topology and demand (JSON, for tools/flow-bound.py) and exit.")
    var scenarioOut: String?
    @Option(help: "Parallel runs (default: number of cores).") var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        // Times become integer nanoseconds: bound them so that they fit and mean something.
        try check("--duration", duration, 0.001...1_000_000, "s")
        try check("--drain", drain, 0...1_000_000, "s")
        try check("--block-period", blockPeriod, 0.001...3600, "s")
        try check("--link-state-ms", linkStateMs, 0...3_600_000, "ms")
        try check("--processing-us", processingUs, 0...1_000_000, "µs")
        if let r = rate { try check("--rate", r, 0.000001...10_000_000, "requests/s") }
        if let b = boundBps { try check("--bound-bps", b, 1...1e15, "bit/s") }
        if let r = appRetryMs { try check("--app-retry-ms", r, 1...3_600_000, "ms") }
        guard (1...1000).contains(appRetryLimit) else {
            throw ValidationError("--app-retry-limit must be 1…1000 attempts, got \(appRetryLimit)")
        }
        guard poolCapacity >= 2 && poolCapacity <= 1 << 20 else {
            throw ValidationError("--pool-capacity must be 2…1048576 units, got \(poolCapacity)")
        }
        guard records >= 1 && records <= 1 << 20 else { throw ValidationError("--records must be 1…1048576, got \(records)") }
        guard linkStateRadius >= 1 && linkStateRadius <= 16 else {
            throw ValidationError("--link-state-radius must be 1…16 hops, got \(linkStateRadius)")
        }
        guard threads >= 1 && threads <= 1024 else { throw ValidationError("--threads must be 1…1024, got \(threads)") }
        for b in budgets { try check("--budget-ms", b, 0.001...3_600_000, "ms") }
        if detourBudgetMs != "off", let d = Double(detourBudgetMs) { try check("--detour-budget-ms", d, 0...3_600_000, "ms") }
        guard requestBits >= 1 && requestBits <= 64 * 256 else { throw ValidationError("--request-bits must be 1…16384") }
        guard ["blocks", "fluid"].contains(delivery) else { throw ValidationError("--delivery must be blocks or fluid") }
        guard jitter >= 0 && jitter < 1 else { throw ValidationError("--jitter must be in [0, 1)") }
        guard blockPeriod > 0 else { throw ValidationError("--block-period must be positive") }
        guard detourBudgetMs == "off" || (Double(detourBudgetMs).map { $0 >= 0 } ?? false) else {
            throw ValidationError("--detour-budget-ms must be a number of milliseconds ≥ 0, or off")
        }
        guard !budgets.isEmpty else {
            throw ValidationError("--budget-ms must be a positive number of milliseconds or a comma list of them, got '\(budgetMs)'")
        }
        guard demandFile == nil || workload != "hotspot" else {
            throw ValidationError("--demand and --workload hotspot both choose the pairs: use --workload poisson or ppbp with --demand")
        }
        guard etaDeviations >= 0 && etaDeviations <= 10 else { throw ValidationError("--eta-deviations must be 0…10") }
        guard detourReserve >= 0 && detourReserve <= 10 else { throw ValidationError("--detour-reserve must be 0…10") }
        guard deliveredHoldMs >= 0 && deliveredHoldMs <= 10_000 else {
            throw ValidationError("--delivered-hold-ms must be 0…10000")
        }
        guard linkStateHoldMs >= 0 && linkStateHoldMs <= 10_000 else {
            throw ValidationError("--link-state-hold-ms must be 0…10000")
        }
        guard frameHoldMs >= 0 && frameHoldMs <= 10_000 else { throw ValidationError("--frame-hold-ms must be 0…10000") }
        guard WorkloadKind(rawValue: workload) != nil else { throw ValidationError("--workload must be poisson, ppbp or hotspot") }
        _ = try protocolList()
        _ = try routingList()
        _ = try loads()
    }

    func run() throws {
        let clock = ContinuousClock()
        let started = clock.now
        let kinds = try protocolList()
        let routings = try routingList()
        let loadList = try loads()
        let files = RunOutputs(json: json, trace: trace, plot: plot, scenario: scenarioOut)
        // Output paths are checked before the run: a typo must not cost the results of a long sweep.
        try files.preflight()
        let network = try loadNetworkWithTraces()
        let demand = try loadDemand(network: network)
        if scenarioOut != nil {
            try files.writeScenario(network: network, demand: demand)
            return
        }
        var bound = boundBps ?? 0
        var boundMethod = "given"
        if boundBps == nil && rate == nil {
            let fb = FlowBound(network: network, demand: demand.weightedPairs())
            bound = fb.bitsPerSecond
            boundMethod = fb.method
        }
        FileHandle.standardError.write(
            Data("akrp-sim run: \(network.name), \(network.nodeCount) nodes, \(network.links.count) links, bound \(Int(bound)) bit/s (\(boundMethod))\n".utf8))
        let scenarios = try makeScenarios(network: network, demand: demand, loads: loadList, bound: bound)
        let tasks = makeTasks(scenarios: scenarios.count, routings: routings, kinds: kinds)
        do { try checkMemory(scenarios: scenarios, tasks: tasks, network: network) } catch let e as ValidationError {
            throw e
        } catch {
            throw ValidationError(explain(error))
        }
        let state = RunState(count: tasks.count)
        let workloadName = workload
        let workers = max(1, min(threads, tasks.count))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var t = worker
            while t < tasks.count {
                let task = tasks[t]
                let begin = clock.now
                do {
                    var scenario = scenarios[task.scenario]
                    if let b = task.budget { scenario.latencyBudget = UInt64(b * 1e6) }
                    var out = try ProtocolRunner.run(
                        task.kind, routing: task.routing, scenario: scenario, workload: workloadName,
                        progress: { state.progress(worker: worker, fraction: $0) })
                    if let b = task.budget { out.result.protocolName += "@\(Int(b))ms" }
                    out.result.wallSeconds = seconds(clock.now - begin)
                    state.finish(index: t, output: out)
                } catch {
                    state.fail(index: t, message: "\(task.kind.rawValue): \(explain(error))")
                }
                t += workers
            }
        }
        state.endProgress()
        if let e = state.errors.first { throw ValidationError(e) }
        let outputs = state.outputs.compactMap { $0 }
        // The table first: an output file that cannot be written must not lose the results.
        printSummary(
            results: outputs.map(\.result), network: network, bound: bound, boundMethod: boundMethod,
            seconds: seconds(clock.now - started), engineBytes: outputs.map(\.engineBytes).max() ?? 0)
        try files.write(outputs: outputs, network: network, boundMethod: boundMethod)
    }

    /// The summary table on standard output.
    func printSummary(
        results: [ProtocolResult], network: SimNetwork, bound: Double, boundMethod: String, seconds: Double,
        engineBytes: Int
    ) {
        print(
            "topology \(network.name) (\(network.nodeCount) nodes, \(network.links.count) links), workload \(workload), \(delivery) key, bound \(Int(bound)) bit/s (\(boundMethod)), \(String(format: "%.1f", seconds)) s wall, peak RSS \(peakResidentMegabytes()) MB"
        )
        print(
            "routing    load protocol              offered delivered  thr_bps  ratio  succ  wasted_b  cons/bit  mean_ms   p99_ms  wall_s")
        for r in results {
            print(
                r.routing.padding(toLength: 10, withPad: " ", startingAt: 0) + " "
                    + String(format: "%4.2f ", r.load) + r.protocolName.padding(toLength: 20, withPad: " ", startingAt: 0)
                    + String(
                        format: " %8d %9d %8.0f %6.3f %5.3f %9d %9.3f %8.1f %8.1f %7.2f", r.offeredRequests,
                        r.deliveredRequests, r.throughputBps, r.boundRatio, r.successRatio, r.keyWastedBits,
                        r.consumedPerDeliveredBit, r.latencyMean, r.latencyP99, r.wallSeconds))
        }
        if engineBytes > 0 { print("engine memory (all nodes, one run): \(engineBytes / 1024) KiB") }
        if let retry = appRetryMs {
            print("application-perceived latency (a failed request retried after \(retry) ms, at most \(appRetryLimit) attempts):")
            print("routing    load protocol              attempts   app_mean_ms   app_p99_ms")
            for r in results {
                print(
                    r.routing.padding(toLength: 10, withPad: " ", startingAt: 0) + " "
                        + String(format: "%4.2f ", r.load) + r.protocolName.padding(toLength: 20, withPad: " ", startingAt: 0)
                        + String(format: " %9d %13.1f %12.1f", r.attempts, r.applicationLatencyMean, r.applicationLatencyP99))
            }
        }
    }
}

/// A duration in seconds.
func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}
