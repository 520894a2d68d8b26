import AKRPEngine
import AKRPSimulation
import ArgumentParser

@main
struct AKRPSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "akrp-sim",
        abstract: "AKRP network simulator and deterministic simulation tester.",
        subcommands: [Chaos.self, Explore.self]
    )
}

struct Chaos: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Deterministic simulation testing: run seeds with faults, check the invariants.")

    @Option(help: "Number of seeds to run.") var seeds: Int = 100
    @Option(name: .customLong("first-seed"), help: "First seed.") var firstSeed: UInt64 = 1
    @Flag(help: "Print one line per seed.") var verbose = false

    func validate() throws {
        guard seeds >= 1 else { throw ValidationError("--seeds must be at least 1") }
    }

    func run() throws {
        var violations = 0
        for k in 0..<seeds {
            let seed = firstSeed &+ UInt64(k)
            let r = ChaosRun(seed: seed).run()
            if verbose || !r.violations.isEmpty {
                print(
                    "seed \(seed): \(r.nodes) nodes \(r.links) links paths=\(r.paths) faultFree=\(r.faultFree) requests=\(r.requests) accepted=\(r.accepted) delivered=\(r.deliveredBothEnds) crashes=\(r.crashes) dropped=\(r.droppedMessages) conflicts=\(r.conflictsResolved) discarded=\(r.unitsDiscarded) steps=\(r.steps)"
                )
            }
            for v in r.violations { print("  \(v)") }
            if !r.violations.isEmpty {
                violations += r.violations.count
                print("  replay: \(r.replayCommand)")
            }
        }
        print("\(seeds) seeds, \(violations) invariant violations")
        if violations > 0 { throw ExitCode(1) }
    }
}

struct Explore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Exhaustively explore two requests reserving from opposite ends of a 3-node line.")

    func run() throws {
        let r = OppositeReservationsModel().explore()
        print("states \(r.states), transitions \(r.transitions), final states \(r.terminals) (\(r.terminalsWithConflict) with a CD&R conflict), max depth \(r.maxDepth)")
        for v in r.violations.prefix(10) { print("  \(v)") }
        print("\(r.violations.count) invariant violations")
        if !r.violations.isEmpty { throw ExitCode(1) }
    }
}
