import AKRPSimulation
import ArgumentParser
import Foundation

/// `akrp-sim run`: the inputs — topology, key traces, demand — and the scenarios and runs made of them.
extension Run {
    /// The topology with the key traces of `--trace-key` (all links) or of its file's `trace=` fields.
    func loadNetworkWithTraces() throws -> SimNetwork {
        var network = try loadNetwork()
        if let t = traceKey {
            let schedule = try loadTrace(t)
            for l in network.links.indices { network.links[l].delivery = .trace(schedule) }
        }
        return network
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

    /// The demand of `--demand FILE`, else the workload's own pairs.
    func loadDemand(network: SimNetwork) throws -> Demand {
        guard let path = demandFile else {
            return Demand(network: network, kind: WorkloadKind(rawValue: workload)!, seed: seed)
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("--demand: '\(path)' cannot be read")
        }
        do {
            return Demand(network: network, matrix: try DemandFile(parsing: text, network: network).pairs)
        } catch {
            throw ValidationError("--demand \(path): \(error)")
        }
    }

    /// One scenario per load point: identical arrivals and key streams for every protocol and routing.
    func makeScenarios(network: SimNetwork, demand: Demand, loads: [Double], bound: Double) throws -> [Scenario] {
        let workloadKind = WorkloadKind(rawValue: workload)!
        var scenarios: [Scenario] = []
        for x in loads {
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
            s.deliveredHold = UInt64(deliveredHoldMs * 1e6)
            s.linkStateHold = UInt64(linkStateHoldMs * 1e6)
            s.frameHold = UInt64(frameHoldMs * 1e6)
            s.adaptiveMultipath = adaptiveMultipath
            s.linkStateRadius = linkStateRadius
            s.detourBudget = detourBudgetMs == "off" ? nil : UInt64((Double(detourBudgetMs) ?? 0) * 1e6)
            s.detourReserve = detourReserve
            s.linkStateInterval = UInt64(linkStateMs * 1e6)
            s.processing = UInt64(processingUs * 1e3)
            s.load = rate == nil ? x : 0
            s.boundBitsPerSecond = bound
            s.recordTrace = trace != nil
            s.applicationRetry = appRetryMs.map { UInt64($0 * 1e6) }
            s.applicationRetryLimit = appRetryLimit
            scenarios.append(s)
        }
        return scenarios
    }

    /// One run: a scenario (load point), a routing, a protocol and, with several `--budget-ms`, a budget.
    struct SweepRun: Sendable {
        var scenario: Int
        var routing: RoutingPolicy
        var kind: ProtocolKind
        var budget: Double?
    }

    /// Every run of the sweep; AKRP protocols once per budget when `--budget-ms` is a list.
    func makeTasks(scenarios: Int, routings: [RoutingPolicy], kinds: [ProtocolKind]) -> [SweepRun] {
        var tasks: [SweepRun] = []
        let budgetList = budgets
        for i in 0..<scenarios {
            for r in routings {
                for k in kinds {
                    if k.isEngine && budgetList.count > 1 {
                        for b in budgetList { tasks.append(SweepRun(scenario: i, routing: r, kind: k, budget: b)) }
                    } else {
                        tasks.append(SweepRun(scenario: i, routing: r, kind: k, budget: nil))
                    }
                }
            }
        }
        return tasks
    }

    /// Refuses, before building thousands of engines, what this machine cannot hold.
    func checkMemory(scenarios: [Scenario], tasks: [SweepRun], network: SimNetwork) throws {
        guard let engineTask = tasks.first(where: { $0.kind.isEngine }) else { return }
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
}
