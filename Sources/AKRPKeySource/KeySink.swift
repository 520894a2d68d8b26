public import AKRPEngine

/// Why a ``KeySink`` refused units or a discard notice.
public enum KeySinkError: Error, Equatable, Sendable {
    /// The sink has room for `free` units but was offered `requested`.
    case noRoom(free: Int, requested: Int)
    /// Units must continue the stream: the sink expected `expected` and was offered `got`.
    case notContiguous(expected: UnitIndex, got: UnitIndex)
    /// The units belong to another link than the sink's.
    case wrongLink(expected: LinkID, got: LinkID)
    /// The units have another size (bytes) than the sink's.
    case wrongUnitSize(expected: Int, got: Int)
    /// `bytes` does not hold exactly `unitCount × unitSize` bytes.
    case lengthMismatch(expected: Int, got: Int)
}

/// Where a ``KeySource`` puts key units: the engine's per-link key pool adapts to this.
///
/// A sink holds one link's units in stream order. It tells the source how much room it has
/// (backpressure: a source never offers more) and which unit it expects next (so a source that
/// restarts, e.g. after a USB replug, resumes exactly after the units the sink already holds).
/// A sink is used from one thread at a time; ``KeySource`` implementations that run their own
/// thread hand units over through their own locked staging area.
public protocol KeySink: ~Copyable {
    /// How many more units the sink can accept now (0 when full).
    var freeUnits: Int { get }

    /// One past the last unit index the sink holds or has been told to discard, or `nil` when it
    /// has never received a unit (then any starting index is accepted).
    var nextExpectedIndex: UnitIndex? { get }

    /// Accepts `unitCount` contiguous units of `link`, starting at `firstIndex`.
    ///
    /// `bytes` holds exactly `unitCount × unitSize` key bytes; the sink copies them, and the caller
    /// wipes its own copy afterwards. `firstIndex` must equal ``nextExpectedIndex`` when that is
    /// not `nil`, and `unitCount` must not exceed ``freeUnits``.
    /// - Throws: ``KeySinkError`` when any of these conditions fails; nothing is stored then.
    mutating func accept(
        link: LinkID, firstIndex: UnitIndex, unitCount: Int, unitSize: Int, bytes: UnsafeRawBufferPointer
    ) throws(KeySinkError)

    /// Notes that units `units` of `link` are lost and must never be used, at this end or the
    /// other (the source could not deliver them, e.g. the device dropped them while unplugged).
    ///
    /// `units.lowerBound` must equal ``nextExpectedIndex`` when that is not `nil`; afterwards the
    /// sink expects `units.upperBound`.
    /// - Throws: ``KeySinkError/notContiguous(expected:got:)`` or ``KeySinkError/wrongLink(expected:got:)``.
    mutating func discard(link: LinkID, units: Range<UnitIndex>) throws(KeySinkError)
}
