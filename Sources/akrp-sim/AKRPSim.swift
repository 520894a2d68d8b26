import AKRPEngine
import AKRPSimulation
import ArgumentParser
import Foundation

@main
struct AKRPSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "akrp-sim",
        abstract: "AKRP network simulator and deterministic simulation tester.",
        subcommands: [Chaos.self, Explore.self, EngineBench.self, Run.self]
    )
}

struct Chaos: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Deterministic simulation testing: run seeds with faults, check the invariants.",
        discussion: """
            Each seed builds a random topology and workload and runs real engines under a seeded scheduler \
            that delays, reorders, duplicates and drops messages, drops connections, crashes and restarts \
            nodes and stalls key delivery; the five invariants of docs/PROTOCOL.md are checked. The last \
            line is "N seeds, V invariant violations"; the exit status is 1 when V > 0. A failing seed \
            prints the command that replays it.
            """)

    @Option(help: "Number of seeds to run.") var seeds: Int = 100
    @Option(name: .customLong("first-seed"), help: "First seed.") var firstSeed: UInt64 = 1
    @Flag(help: "Print one line per seed.") var verbose = false
    @Flag(help: "Print one JSON object per seed (JSON lines), then a summary object.") var json = false

    func validate() throws {
        guard seeds >= 1 else { throw ValidationError("--seeds must be at least 1") }
        guard UInt64(seeds - 1) <= UInt64.max - firstSeed else {
            throw ValidationError(
                "--first-seed \(firstSeed) with --seeds \(seeds) runs past the last seed \(UInt64.max): at most --first-seed \(UInt64.max - UInt64(seeds - 1))")
        }
    }

    func run() throws {
        var violations = 0
        let progress = ProgressLine(total: seeds, label: "seeds")
        for k in 0..<seeds {
            let seed = firstSeed &+ UInt64(k)
            let r = ChaosRun(seed: seed).run()
            violations += r.violations.count
            progress.update(k + 1)
            if json {
                let list = r.violations.map { jsonString("\($0)") }.joined(separator: ",")
                print(
                    "{\"seed\":\(seed),\"nodes\":\(r.nodes),\"links\":\(r.links),\"paths\":\(r.paths),\"fault_free\":\(r.faultFree),\"requests\":\(r.requests),\"accepted\":\(r.accepted),\"delivered_both_ends\":\(r.deliveredBothEnds),\"crashes\":\(r.crashes),\"dropped_messages\":\(r.droppedMessages),\"duplicated_messages\":\(r.duplicatedMessages),\"connection_drops\":\(r.connectionDrops),\"stalls\":\(r.stalls),\"conflicts_resolved\":\(r.conflictsResolved),\"units_yielded\":\(r.unitsYielded),\"notices_held\":\(r.noticesHeld),\"link_states_held\":\(r.linkStatesHeld),\"reservation_messages_held\":\(r.reservationMessagesHeld),\"units_discarded\":\(r.unitsDiscarded),\"steps\":\(r.steps),\"violations\":[\(list)],\"replay\":\"\(r.replayCommand)\"}"
                )
                continue
            }
            if verbose || !r.violations.isEmpty {
                print(
                    "seed \(seed): \(r.nodes) nodes \(r.links) links paths=\(r.paths) faultFree=\(r.faultFree) requests=\(r.requests) accepted=\(r.accepted) delivered=\(r.deliveredBothEnds) crashes=\(r.crashes) dropped=\(r.droppedMessages) conflicts=\(r.conflictsResolved) yielded=\(r.unitsYielded) discarded=\(r.unitsDiscarded) steps=\(r.steps)"
                )
            }
            for v in r.violations { print("  \(v)") }
            if !r.violations.isEmpty { print("  replay: \(r.replayCommand)") }
        }
        progress.finish()
        if json {
            print("{\"seeds\":\(seeds),\"invariant_violations\":\(violations)}")
        } else {
            print("\(seeds) seeds, \(violations) invariant violations")
        }
        if violations > 0 { throw ExitCode(1) }
    }
}

struct Explore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Exhaustively explore two requests reserving from opposite ends of a 3-node line.")

    @Flag(help: "Print the result as JSON.") var json = false
    @Option(
        name: .customLong("delivered-hold-ms"),
        help: "How long delivered notices wait for other messages (0…10000 ms; 0 = sent at once, every interleaving).")
    var deliveredHoldMs: Double = Double(EngineConfiguration().deliveredHold) / 1e6

    func validate() throws {
        guard deliveredHoldMs >= 0 && deliveredHoldMs <= 10_000 else {
            throw ValidationError("--delivered-hold-ms must be 0…10000")
        }
    }

    func run() throws {
        var model = OppositeReservationsModel()
        model.deliveredHold = UInt64(deliveredHoldMs * 1e6)
        let r = model.explore()
        if json {
            let list = r.violations.prefix(10).map { jsonString($0) }.joined(separator: ",")
            print(
                "{\"states\":\(r.states),\"transitions\":\(r.transitions),\"final_states\":\(r.terminals),\"final_states_with_conflict\":\(r.terminalsWithConflict),\"max_depth\":\(r.maxDepth),\"invariant_violations\":\(r.violations.count),\"first_violations\":[\(list)]}"
            )
        } else {
            print("states \(r.states), transitions \(r.transitions), final states \(r.terminals) (\(r.terminalsWithConflict) with a CD&R conflict), max depth \(r.maxDepth)")
            for v in r.violations.prefix(10) { print("  \(v)") }
            print("\(r.violations.count) invariant violations")
        }
        if !r.violations.isEmpty { throw ExitCode(1) }
    }
}

struct EngineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine-bench",
        abstract: "Measure engine speed: full request life cycles on a 4-hop line, all engines in one process.")

    @Option(help: "Request life cycles to run.") var requests: Int = 200_000
    @Option(help: "Units per request (32-byte units).") var units: Int = 8
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard requests >= 1 else { throw ValidationError("--requests must be at least 1") }
        guard (1...64).contains(units) else { throw ValidationError("--units must be 1…64") }
    }

    func run() throws {
        let bench = try LifecycleBench(unitsPerRequest: units)
        for _ in 0..<1000 { bench.runOneRequest() }
        let clock = ContinuousClock()
        var events = 0
        let elapsed = clock.measure {
            for _ in 0..<requests { events += bench.runOneRequest() }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let perSecond = Double(events) / seconds
        let footprint = bench.engines.map(\.memoryFootprint)
        if json {
            print(
                "{\"requests\":\(requests),\"events\":\(events),\"seconds\":\(seconds),\"events_per_second\":\(Int(perSecond)),\"requests_per_second\":\(Int(Double(requests) / seconds)),\"bytes_per_node_2_links\":\(footprint[1])}"
            )
        } else {
            print("\(requests) request life cycles on a 4-hop line, \(units) units each")
            print("input events: \(events) (\(events / requests) per request)")
            print("time: \(String(format: "%.3f", seconds)) s")
            print("events/s: \(Int(perSecond))   requests/s: \(Int(Double(requests) / seconds))")
            print("engine memory, default configuration: \(footprint[1]) bytes for a node with 2 links, \(footprint[0]) with 1")
        }
    }
}
