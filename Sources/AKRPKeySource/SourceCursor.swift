import AKRPEngine

/// Lines a source's next unit up with what the sink expects, before a delivery.
///
/// - When the sink has never held a unit, the source starts at `cursor`.
/// - When the sink expects a later unit than `cursor` (it already holds units up to there), the
///   source skips ahead: units are never delivered twice.
/// - When the sink expects an earlier unit than the source can still produce, the gap is lost:
///   it is announced with `discard`, so that neither end ever uses those units.
/// - Returns: the index the source delivers next.
func alignSourceCursor<Sink: KeySink & ~Copyable>(
    _ cursor: UnitIndex, link: LinkID, sink: inout Sink
) throws(KeySourceError) -> UnitIndex {
    guard let expected = sink.nextExpectedIndex else { return cursor }
    if expected > cursor { return expected }
    if expected < cursor {
        do { try sink.discard(link: link, units: expected..<cursor) } catch { throw .sink(error) }
    }
    return cursor
}
