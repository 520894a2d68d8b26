#if AKRP_MUTATIONS
/// Deliberate faults that the invariant checkers must catch: each one breaks one rule of
/// docs/PROTOCOL.md. The switches exist only where `AKRP_MUTATIONS` is defined — debug builds of this
/// package (Package.swift), so `swift test` can replay them — and are compiled out of release builds,
/// whose engine has neither the switch nor the checks on its paths.
public enum EngineMutation: String, Sendable, CaseIterable {
    /// The correct engine.
    case none
    /// Consumes the right units but reports others in `unitsConsumed` (each index moved by 2⁴⁰):
    /// the key does not come from the units the engine names (invariant 1, seen only from the bytes).
    case reportsOtherUnits
    /// CD&R at the downstream end grants one of its own units that it already bound to another request
    /// (§7.2). The consumption guard turns the double binding into discarded key, so a committed request
    /// is never delivered: invariant 5 (the exhaustive check finds 6 such schedules).
    case ownerGrantsBoundUnit
    /// The upstream end keeps the units it proposed instead of those the downstream end confirmed
    /// (§7.3). The ends disagree; the consumption guard refuses the list, and the kept units are never
    /// released: invariant 3 (held units at quiescence).
    case keepsProposedUnits
    /// The destination flips one bit of the key it delivers (invariant 2: the ends' keys differ).
    case destinationAltersKey
    /// Releasing a branch's units forgets them instead of freeing them (invariant 3: units held forever).
    case leaksReleasedUnits
    /// Releasing a branch's units discards them instead of freeing them (invariant 4: key lost without a fault).
    case discardsReleasedUnits
    /// The destination never completes a committed branch (invariant 5: accepted but not delivered).
    case destinationNeverDelivers

    /// The invariant of docs/PROTOCOL.md §12 whose checker must catch this mutation.
    public var brokenInvariant: Int {
        switch self {
        case .none: 0
        case .reportsOtherUnits: 1
        case .destinationAltersKey: 2
        case .leaksReleasedUnits, .keepsProposedUnits: 3
        case .discardsReleasedUnits: 4
        case .ownerGrantsBoundUnit, .destinationNeverDelivers: 5
        }
    }
}

extension EngineMutation {
    /// `units` with every index moved by 2⁴⁰ (the false report of ``reportsOtherUnits``).
    static func misreported(_ units: UnitRuns) -> UnitRuns {
        var moved = UnitRuns()
        var r = 0
        while r < Int(units.runCount) {
            try? moved.append(run: UnitRun(start: units[r].start &+ (1 << 40), count: units[r].count))
            r += 1
        }
        return moved
    }
}
#endif
