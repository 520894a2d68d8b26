import AKRPEngine

/// A field of ``Message`` that a receiving engine reads.
///
/// Deliberately independent of `MessageLayout`: this table is written from the engine's handlers
/// (`grep -n "m\.\(index\|units\|…\)" Sources/AKRPEngine/*.swift`) and `docs/PROTOCOL.md` §4, so that a
/// codec which silently drops a field cannot also hide the drop by agreeing with itself.
enum EngineField: String, CaseIterable, Sendable, CustomStringConvertible {
    case sequence, incarnation, peerIncarnation
    case request, origin, branch, hop, reason, size, time, index, rate, serial, subject, shareMask, path, units
    case payloadLength

    var description: String { rawValue }

    /// The fields the engine's handler for `kind` reads from a received message (besides `from`,
    /// `to` and the payload bytes).
    ///
    /// Set by the sender but not read by the receiver, hence absent: `path` of confirm, fail, release,
    /// abort and abortReply (their handlers find the record by request and branch); `size` of confirm
    /// and commit (the record has it); `path` of commit.
    static func read(by kind: MessageKind) -> [EngineField] {
        let link: [EngineField] = [.sequence, .incarnation, .peerIncarnation]
        let branch: [EngineField] = link + [.request, .branch, .hop]
        switch kind {
        case .hello: return [.sequence, .incarnation, .index]  // handleHello
        case .resync: return link + [.index]  // handleResync
        case .reserve: return branch + [.path, .size, .time, .units, .index]  // handleReserve
        case .confirm: return branch + [.units, .time, .index]  // handleConfirm
        case .fail: return branch + [.reason]  // handleFail
        case .commit: return branch + [.shareMask, .time, .units, .payloadLength, .reason]  // handleCommit (flags)
        case .share: return branch + [.size, .path, .payloadLength]  // handleShare
        case .release, .abort: return branch  // handleRelease, handleAbort
        case .abortReply: return branch + [.reason]  // handleAbortReply
        case .linkState: return link + [.subject, .origin, .index, .rate, .serial, .hop]  // handleLinkState
        case .delivered: return branch + [.path, .reason]  // handleDelivered (flags)
        }
    }

    /// Whether this field of `m` differs from its zero value.
    func isSet(in m: Message) -> Bool {
        switch self {
        case .sequence: m.sequence != 0
        case .incarnation: m.incarnation != 0
        case .peerIncarnation: m.peerIncarnation != 0
        case .request: m.request.source != .none && m.request.serial != 0
        case .origin: m.request.source != .none
        case .branch: m.branch != 0
        case .hop: m.hop != 0
        case .reason: m.reason != 0
        case .size: m.size != 0
        case .time: m.time != 0
        case .index: m.index != 0
        case .rate: m.rate != 0
        case .serial: m.serial != 0
        case .subject: m.subject.low != .none
        case .shareMask: m.shareMask != 0
        case .path: m.path.nodeCount != 0
        case .units: !m.units.isEmpty
        case .payloadLength: m.payloadLength != 0
        }
    }

    /// Copies this field from `source` into `target`.
    func copy(from source: Message, into target: inout Message) {
        switch self {
        case .sequence: target.sequence = source.sequence
        case .incarnation: target.incarnation = source.incarnation
        case .peerIncarnation: target.peerIncarnation = source.peerIncarnation
        case .request: target.request = source.request
        case .origin: target.request.source = source.request.source
        case .branch: target.branch = source.branch
        case .hop: target.hop = source.hop
        case .reason: target.reason = source.reason
        case .size: target.size = source.size
        case .time: target.time = source.time
        case .index: target.index = source.index
        case .rate: target.rate = source.rate
        case .serial: target.serial = source.serial
        case .subject: target.subject = source.subject
        case .shareMask: target.shareMask = source.shareMask
        case .path: target.path = source.path
        case .units: target.units = source.units
        case .payloadLength: target.payloadLength = source.payloadLength
        }
    }

    /// `m` restricted to what its receiver reads: kind, ends, and the fields of ``read(by:)``; every
    /// other field zero.
    static func engineView(of m: Message) -> Message {
        var view = Message(kind: m.kind, from: m.from, to: m.to)
        for field in read(by: m.kind) { field.copy(from: m, into: &view) }
        return view
    }
}
