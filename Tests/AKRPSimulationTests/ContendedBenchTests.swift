import AKRPEngine
import AKRPSimulation
import Testing

/// The contended benchmark's driver does what its name says: the two ends reserve at once, CD&R
/// resolves conflicts, branches yield delivered units, multipath launches two branches per request,
/// link state is flooded — and keys are delivered.
@Suite("Contended benchmark driver")
struct ContendedBenchTests {
    @Test("conflicts, yields, multipath and link state all happen, keys are delivered, nothing dropped")
    func contention() throws {
        let bench = try ContendedBench()
        for _ in 0..<50 { bench.runOneRound() }
        func total(_ f: (EngineCounters) -> UInt64) -> UInt64 { bench.engines.reduce(0) { $0 + f($1.counters) } }
        let before = (
            conflicts: total(\.conflictsResolved), yielded: total(\.unitsYielded), branches: total(\.branchesLaunched),
            delivered: bench.delivered, linkState: bench.linkStateMessages)
        for _ in 0..<200 { bench.runOneRound() }
        #expect(total(\.conflictsResolved) > before.conflicts)
        #expect(total(\.unitsYielded) > before.yielded)
        #expect(total(\.branchesLaunched) - before.branches >= 2 * 200)
        #expect(bench.delivered - before.delivered > 100)
        #expect(total(\.consistencyFaults) == 0)
        #expect(bench.linkStateMessages > before.linkState)
        #expect(bench.ringOverflows == 0)
    }
}
