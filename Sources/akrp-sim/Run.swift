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
    var budgetMs = "2000"
    @Option(
        name: .customLong("detour-budget-ms"),
        help: "AKRP: a path longer than the direct one may only take key arriving within this many ms (off = whole budget).")
    var detourBudgetMs = "0"
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
    var etaDeviations: Double = 0
    @Option(name: .customLong("link-state-ms"), help: "AKRP link-state refresh, ms (announcements also on level-band changes; 0 = off).") var linkStateMs: Double = 10000
    @Option(name: .customLong("processing-us"), help: "Processing time per message per node, µs.") var processingUs: Double = 50
    @Option(name: .customLong("bound-bps"), help: "Flow bound (bit/s) from tools/flow-bound.py; default: computed here.")
    var boundBps: Double?
    @Option(name: .customLong("rate"), help: "Absolute arrival rate, requests/s (overrides --load).") var rate: Double?
    @Option(name: .customLong("trace-key"), help: "Key trace file (dataset format) driving every link's timing.")
    var traceKey: String?
    @Option(help: "Write the results (JSON array) here.") var json: String?
    @Option(help: "Write one JSON line per request outcome here.") var trace: String?
    @Option(help: "Write SVG plots and summary.md into this directory.") var plot: String?
    @Option(name: .customLong("scenario-out"), help: "Write topology and demand (JSON, for tools/flow-bound.py) and exit.")
    var scenarioOut: String?
    @Option(help: "Parallel runs (default: number of cores).") var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    /// The AKRP latency budgets of `--budget-ms`, ms (empty when malformed).
    var budgets: [Double] {
        let parts = budgetMs.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) > 0 }) else { return [] }
        return parts.map { $0! }
    }

    /// `value` must be a finite number in `range`, else a ValidationError naming `option`.
    func check(_ option: String, _ value: Double, _ range: ClosedRange<Double>, _ unit: String) throws {
        guard value.isFinite && range.contains(value) else {
            throw ValidationError("\(option) must be \(range.lowerBound)…\(range.upperBound) \(unit), got \(value)")
        }
    }

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
        guard WorkloadKind(rawValue: workload) != nil else { throw ValidationError("--workload must be poisson, ppbp or hotspot") }
        _ = try protocolList()
        _ = try routingList()
        _ = try loads()
    }

    func protocolList() throws -> [ProtocolKind] {
        try protocols.split(separator: ",").map {
            guard let p = ProtocolKind(rawValue: String($0)) else { throw ValidationError("unknown protocol '\($0)'") }
            return p
        }
    }

    func routingList() throws -> [RoutingPolicy] {
        try routing.split(separator: ",").map {
            guard let r = RoutingPolicy(rawValue: String($0)) else { throw ValidationError("unknown routing '\($0)'") }
            return r
        }
    }

    func loads() throws -> [Double] {
        let out = try loadValues()
        guard out.allSatisfy({ $0.isFinite && $0 <= 1000 }), out.count <= 1000 else {
            throw ValidationError("--load: at most 1000 points, each at most 1000 × the bound, got '\(load)'")
        }
        return out
    }

    func loadValues() throws -> [Double] {
        let wrong = ValidationError("--load wants X, a list X,Y,… or A:B:STEP with 0 < A ≤ B and STEP > 0, got '\(load)'")
        if load.contains(",") {
            let list = load.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard list.allSatisfy({ ($0 ?? 0) > 0 }) else { throw wrong }
            return list.map { $0! }
        }
        let parts = load.split(separator: ":").map { Double($0) }
        if parts.count == 1, let x = parts[0], x > 0 { return [x] }
        guard parts.count == 3, let a = parts[0], let b = parts[1], let s = parts[2], a > 0, b >= a, s > 0 else {
            throw wrong
        }
        guard a.isFinite, b.isFinite, (b - a) / s < 1000 else {
            throw ValidationError("--load: at most 1000 points, each at most 1000 × the bound, got '\(load)'")
        }
        var out: [Double] = []
        var k = 0
        while a + Double(k) * s <= b + 1e-9 {
            out.append(((a + Double(k) * s) * 1000).rounded() / 1000)
            k += 1
        }
        return out
    }

    func loadNetwork() throws -> SimNetwork {
        do {
            if let n = try SimNetwork.builtin(topology, seed: seed) { return n }
            guard let text = try? String(contentsOfFile: topology, encoding: .utf8) else {
                throw ValidationError("--topology: '\(topology)' is neither a built-in topology nor a readable file")
            }
            var file = try TopologyFile(parsing: text, name: (topology as NSString).lastPathComponent)
            for (l, path) in file.tracePaths {
                file.network.links[l].delivery = .trace(try loadTrace(path))
            }
            return file.network
        } catch let e as NetworkError {
            throw ValidationError("\(e)")
        }
    }

    func loadTrace(_ path: String) throws -> KeyTraceSchedule {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("key trace '\(path)' cannot be read")
        }
        return try KeyTraceSchedule(parsing: [UInt8](data))
    }

    func run() throws {
        let clock = ContinuousClock()
        let started = clock.now
        let kinds = try protocolList()
        let routings = try routingList()
        let loadList = try loads()
        let workloadKind = WorkloadKind(rawValue: workload)!
        var network = try loadNetwork()
        if let t = traceKey {
            let schedule = try loadTrace(t)
            for l in network.links.indices { network.links[l].delivery = .trace(schedule) }
        }
        let demand: Demand
        if let path = demandFile {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("--demand: '\(path)' cannot be read")
            }
            do {
                demand = Demand(network: network, matrix: try DemandFile(parsing: text, network: network).pairs)
            } catch {
                throw ValidationError("--demand \(path): \(error)")
            }
        } else {
            demand = Demand(network: network, kind: workloadKind, seed: seed)
        }
        if let out = scenarioOut {
            try writeScenario(network: network, demand: demand, to: out)
            return
        }
        var bound = boundBps ?? 0
        var boundMethod = "given"
        if boundBps == nil && rate == nil {
            let fb = FlowBound(network: network, demand: demand.weightedPairs())
            bound = fb.bitsPerSecond
            boundMethod = fb.method
        }
        let interactive = isatty(2) == 1
        if interactive {
            FileHandle.standardError.write(
                "akrp-sim run: \(network.name), \(network.nodeCount) nodes, \(network.links.count) links, bound \(Int(bound)) bit/s (\(boundMethod))\n"
                    .data(using: .utf8)!)
        }
        // One scenario per load point: identical arrivals and key streams for every protocol and routing.
        var scenarios: [Scenario] = []
        for x in loadList {
            let perSecond = rate ?? (x * bound / Double(requestBits))
            // Arrivals are generated up front (identical for every protocol): refuse what would not fit.
            let expected = perSecond * duration
            guard expected <= 20_000_000 else {
                throw ValidationError(
                    "--load/--rate and --duration ask for about \(Int(expected)) requests per point; at most 20,000,000")
            }
            let arrivals = demand.arrivals(
                kind: workloadKind, rate: perSecond, duration: UInt64(duration * 1e9), bits: requestBits, seed: seed)
            var s = Scenario(network: network, arrivals: arrivals, duration: UInt64(duration * 1e9), seed: seed)
            s.drain = UInt64(drain * 1e9)
            s.delivery =
                delivery == "fluid"
                ? .fluid(period: 10_000_000) : .blocks(meanPeriod: UInt64(blockPeriod * 1e9), jitter: jitter)
            s.poolCapacity = poolCapacity
            s.recordCapacity = records
            s.sourceCapacity = min(256, records)
            s.latencyBudget = UInt64(budgets[0] * 1e6)
            s.etaDeviations = etaDeviations
            s.adaptiveMultipath = adaptiveMultipath
            s.linkStateRadius = linkStateRadius
            s.detourBudget = detourBudgetMs == "off" ? nil : UInt64((Double(detourBudgetMs) ?? 0) * 1e6)
            s.linkStateInterval = UInt64(linkStateMs * 1e6)
            s.processing = UInt64(processingUs * 1e3)
            s.load = rate == nil ? x : 0
            s.boundBitsPerSecond = bound
            s.recordTrace = trace != nil
            scenarios.append(s)
        }
        struct Task { var scenario: Int; var routing: RoutingPolicy; var kind: ProtocolKind; var budget: Double? }
        var tasks: [Task] = []
        let budgetList = budgets
        for (i, _) in scenarios.enumerated() {
            for r in routings {
                for k in kinds {
                    if k.isEngine && budgetList.count > 1 {
                        for b in budgetList { tasks.append(Task(scenario: i, routing: r, kind: k, budget: b)) }
                    } else {
                        tasks.append(Task(scenario: i, routing: r, kind: k, budget: nil))
                    }
                }
            }
        }
        // Refuse before building thousands of engines what this machine cannot hold.
        if let engineTask = tasks.first(where: { $0.kind.isEngine }) {
            let perRun = try EngineNetworkRun.estimatedEngineBytes(
                scenario: scenarios[engineTask.scenario], kind: engineTask.kind, routing: engineTask.routing)
            let atOnce = max(1, min(threads, tasks.count))
            let memory = Double(ProcessInfo.processInfo.physicalMemory)
            if Double(perRun * atOnce) > 0.75 * memory {
                throw ValidationError(
                    "the AKRP engines would need about \(perRun * atOnce / 1_048_576) MiB (\(network.nodeCount) nodes, pools of "
                        + "\(poolCapacity) units, \(records) records per node, \(atOnce) runs at once) of this machine's "
                        + "\(Int(memory / 1_048_576)) MiB: lower --pool-capacity, --records or --threads")
            }
        }
        let state = RunState(count: tasks.count, interactive: interactive)
        let frozenScenarios = scenarios
        let frozenTasks = tasks
        let workloadName = workload
        DispatchQueue.concurrentPerform(iterations: max(1, min(threads, tasks.count))) { worker in
            var t = worker
            while t < frozenTasks.count {
                let task = frozenTasks[t]
                let begin = clock.now
                do {
                    var scenario = frozenScenarios[task.scenario]
                    if let b = task.budget { scenario.latencyBudget = UInt64(b * 1e6) }
                    var out = try ProtocolRunner.run(
                        task.kind, routing: task.routing, scenario: scenario, workload: workloadName,
                        progress: { state.progress(worker: worker, fraction: $0) })
                    if let b = task.budget { out.result.protocolName += "@\(Int(b))ms" }
                    let d = clock.now - begin
                    out.result.wallSeconds = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
                    state.finish(index: t, output: out)
                } catch {
                    state.fail(index: t, message: "\(task.kind.rawValue): \(error)")
                }
                t += max(1, min(threads, frozenTasks.count))
            }
        }
        state.endProgress()
        if let e = state.errors.first { throw ValidationError(e) }
        let outputs = state.outputs.compactMap { $0 }
        let results = outputs.map(\.result)
        let total = clock.now - started
        let seconds = Double(total.components.seconds) + Double(total.components.attoseconds) * 1e-18
        if let path = json {
            let body = "[\n" + results.map(\.json).joined(separator: ",\n") + "\n]\n"
            try body.write(toFile: path, atomically: true, encoding: .utf8)
        }
        if let path = trace {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            for o in outputs {
                var chunk = ""
                for line in o.trace {
                    chunk += line
                    chunk += "\n"
                    if chunk.utf8.count > 1 << 20 {
                        h.write(chunk.data(using: .utf8)!)
                        chunk = ""
                    }
                }
                h.write(chunk.data(using: .utf8)!)
            }
            try h.close()
        }
        if let dir = plot {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try RunPlots(results: results, network: network, boundMethod: boundMethod).write(to: dir)
        }
        // The summary table on standard output.
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
        if let bytes = outputs.map(\.engineBytes).max(), bytes > 0 {
            print("engine memory (all nodes, one run): \(bytes / 1024) KiB")
        }
    }

    func writeScenario(network: SimNetwork, demand: Demand, to path: String) throws {
        var s = "{\"topology\":\"\(network.name)\",\"nodes\":\(network.nodeCount),\"links\":["
        s += network.links.map { "[\($0.a + 1),\($0.b + 1),\($0.rate)]" }.joined(separator: ",")
        s += "],\"demand\":["
        s += demand.weightedPairs().map { "[\($0.0 + 1),\($0.1 + 1),\($0.2)]" }.joined(separator: ",")
        s += "]}\n"
        try s.write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// Peak resident set size of this process, MB (Linux `VmHWM`).
func peakResidentMegabytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb / 1024
    }
    return 0
}

/// Shared, lock-protected state of parallel runs; draws the progress bar on a terminal.
final class RunState: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var outputs: [ProtocolRunner.Output?]
    private(set) var errors: [String] = []
    private var fractions: [Int: Double] = [:]
    private var done = 0
    private let interactive: Bool
    private var lastDraw = 0.0

    init(count: Int, interactive: Bool) {
        outputs = Array(repeating: nil, count: count)
        self.interactive = interactive
    }

    func progress(worker: Int, fraction: Double) {
        lock.lock()
        fractions[worker] = fraction
        draw()
        lock.unlock()
    }

    func finish(index: Int, output: ProtocolRunner.Output) {
        lock.lock()
        outputs[index] = output
        done += 1
        fractions = [:]
        draw(force: true)
        lock.unlock()
    }

    func fail(index: Int, message: String) {
        lock.lock()
        errors.append(message)
        done += 1
        lock.unlock()
    }

    private func draw(force: Bool = false) {
        guard interactive else { return }
        let total = Double(outputs.count)
        let partial = fractions.values.reduce(0, +)
        let f = min(1, (Double(done) + partial) / total)
        guard force || f - lastDraw >= 0.005 else { return }
        lastDraw = f
        let width = 40
        let filled = Int(f * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write("\r[\(bar)] \(done)/\(outputs.count) runs".data(using: .utf8)!)
    }

    func endProgress() {
        if interactive { FileHandle.standardError.write("\n".data(using: .utf8)!) }
    }
}
