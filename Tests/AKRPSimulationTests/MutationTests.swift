#if AKRP_MUTATIONS
import AKRPEngine
import AKRPSimulation
import Testing

/// The checkers can fail: each deliberate engine fault (`EngineMutation`, compiled only into debug
/// builds) must be caught by the checker of the invariant it breaks, on replayable seeds.
@Suite("Mutations the checkers must catch")
struct MutationTests {
    /// Chaos seeds tried per mutation: the first seed whose run reports the broken invariant ends the search.
    static let seeds = UInt64(1)...UInt64(40)

    @Test(
        "each mutation is caught by its invariant's checker on a chaos seed",
        arguments: EngineMutation.allCases.filter { $0 != .none })
    func chaos(mutation: EngineMutation) {
        var caughtBy: UInt64?
        for seed in Self.seeds {
            let run = ChaosRun(seed: seed)
            run.mutation = mutation
            let result = run.run()
            if result.violations.contains(where: { $0.invariant == mutation.brokenInvariant }) {
                caughtBy = seed
                break
            }
        }
        #expect(
            caughtBy != nil,
            "\(mutation) (invariant \(mutation.brokenInvariant)) not caught on chaos seeds \(Self.seeds)")
    }

    @Test("the exhaustive check catches a CD&R rule that lets the owner grant a unit it already bound")
    func exhaustiveCatchesOwnerGrant() {
        var model = OppositeReservationsModel()
        model.mutation = .ownerGrantsBoundUnit
        let result = model.explore()
        // Schedules in which a committed request is never delivered (its key discarded by the guard).
        #expect(!result.violations.isEmpty)
        #expect(result.violations.allSatisfy { $0.contains("not delivered") }, "\(result.violations.prefix(2))")
        #expect(result.terminals > 0)
    }

    @Test("the unmutated exhaustive check and seeds stay clean (the mutations are off by default)")
    func offByDefault() {
        #expect(OppositeReservationsModel().mutation == .none)
        let run = ChaosRun(seed: 1)
        #expect(run.mutation == .none)
        #expect(run.run().violations.isEmpty)
    }
}
#endif
