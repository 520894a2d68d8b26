public import AKRPEngine

/// Why a ``KeySource`` could not deliver.
public enum KeySourceError: Error, Equatable, Sendable {
    /// The sink refused the units or a discard notice (a bug in the caller's sink accounting).
    case sink(KeySinkError)
    /// The source has no more units, ever (a replayed trace reached its end).
    case exhausted
    /// The device behind the source is not attached (unplugged, or not yet re-attached).
    case deviceUnavailable
    /// The device failed in a way that needs attention; `reason` is a short text without key bytes.
    case deviceFailure(reason: String)
}

/// A producer of one link's key stream: a USB QKD device, a simulated device, a replayed trace.
///
/// Both ends of a link have a source; both deliver the same bytes for the same unit index.
/// Sources are driven by their owner's event loop: ``deliver(at:into:)`` moves every unit that is
/// ready at `now` and fits into the sink. Simulated and replayed sources are pure functions of
/// time; a USB source fills a staging area on its own thread and reports readiness separately.
public protocol KeySource: ~Copyable {
    /// The link whose stream this source produces.
    var link: LinkID { get }

    /// The size of one unit, in bytes.
    var unitSize: Int { get }

    /// Moves to `sink` the units that are ready at `now`, never more than `sink.freeUnits`.
    ///
    /// Units continue `sink.nextExpectedIndex`; units the source can no longer produce (lost by a
    /// device) are announced with `sink.discard(link:units:)` first. Key bytes the source held for
    /// the delivered units are wiped.
    /// - Returns: the number of units accepted by the sink.
    /// - Throws: ``KeySourceError``; units accepted before the error stay accepted.
    mutating func deliver<Sink: KeySink & ~Copyable>(at now: Nanoseconds, into sink: inout Sink)
        throws(KeySourceError) -> Int

    /// The earliest time after `now` at which more units become ready, or `nil` when the source
    /// cannot tell (it signals readiness some other way) or never will.
    func nextReadyTime(after now: Nanoseconds) -> Nanoseconds?
}
