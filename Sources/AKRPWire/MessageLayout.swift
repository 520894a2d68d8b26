public import AKRPEngine

/// Which fields each ``MessageKind`` carries on the wire (those `docs/PROTOCOL.md` §4 lists as used),
/// and the rules every carried field obeys.
///
/// One table for the encoder, the decoder and `docs/WIRE.md`: a field that a kind does not carry is
/// not encoded and decodes as zero. Every neighbour body starts with the *incarnation prefix*
/// (`incarnation`, `peerIncarnation`): each kind uses it so that a receiver can drop frames meant for
/// an earlier incarnation of itself or sent by an earlier incarnation of its peer.
public enum MessageLayout {
    /// Bytes of the incarnation prefix.
    public static let prefixLength = 16
    /// Bytes of a request identifier plus branch and hop.
    static let requestBlockLength = 10

    /// Whether `kind` carries a request identifier (and a branch).
    public static func carriesRequest(_ kind: MessageKind) -> Bool {
        switch kind {
        case .hello, .resync, .linkState: false
        default: true
        }
    }

    /// Whether `kind` carries a hop position in its request block (every request-carrying kind).
    /// A linkState carries its remaining TTL in `hop` too, outside a request block.
    public static func carriesHop(_ kind: MessageKind) -> Bool {
        carriesRequest(kind)
    }

    /// Whether `kind` carries a path (reserve; share and delivered, which are forwarded along it).
    public static func carriesPath(_ kind: MessageKind) -> Bool {
        kind == .reserve || kind == .share || kind == .delivered
    }

    /// Whether `kind` carries a key-bytes payload after its fields (commit and share).
    public static func carriesPayload(_ kind: MessageKind) -> Bool {
        kind == .commit || kind == .share
    }

    /// Whether `kind` carries unit runs: the proposed units (reserve), the final units (confirm), or
    /// the committed units of the link, which the upstream end may have moved to later units (commit).
    public static func carriesUnits(_ kind: MessageKind) -> Bool {
        kind == .reserve || kind == .confirm || kind == .commit
    }

    /// Whether `kind` carries `index`: the resume index (hello, resync), the sender's pool window end
    /// (reserve), the window end when the downstream end accepted (confirm; 0 = unknown), or the free
    /// delivered units (linkState).
    public static func carriesIndex(_ kind: MessageKind) -> Bool {
        switch kind {
        case .hello, .resync, .reserve, .confirm, .linkState: true
        default: false
        }
    }

    /// Encoded bytes of `path`: a node count then 4 bytes per node.
    static func pathLength(_ path: Path) -> Int { 1 + 4 * Int(path.nodeCount) }

    /// Encoded bytes of `units`: a run count then 12 bytes per run.
    static func unitsLength(_ units: UnitRuns) -> Int { 1 + 12 * Int(units.runCount) }

    /// Length of the body of `message`, including its payload, in bytes.
    @inline(__always)
    static func bodyLength(of message: Message) -> Int {
        var n = prefixLength
        if carriesRequest(message.kind) { n += requestBlockLength }
        switch message.kind {
        case .release, .abort: break
        case .hello, .resync: n += 8
        case .reserve: n += 2 + 8 + 8 + pathLength(message.path) + unitsLength(message.units)
        case .confirm: n += 8 + 8 + unitsLength(message.units)
        case .fail, .abortReply: n += 1
        case .commit: n += 1 + 4 + 8 + unitsLength(message.units) + 2 + Int(message.payloadLength)
        case .share: n += 2 + pathLength(message.path) + 2 + Int(message.payloadLength)
        case .linkState: n += 8 + 4 + 1 + 8 + 4 + 4
        case .delivered: n += 1 + pathLength(message.path)
        }
        return n
    }

    /// Checks every carried field of `message` against its range (the same rules encoder and decoder
    /// apply, so that everything the encoder writes decodes).
    /// - Throws: `.invalidField(field)` naming the first field out of range, `.invalidPath`.
    @inline(__always)
    static func check(_ message: Message) throws(WireError) {
        let kind = message.kind
        if carriesRequest(kind) {
            guard message.request.source != .none else { throw .invalidField(.request) }
        }
        if carriesPath(kind) {
            do throws(PathError) { try message.path.validate() } catch { throw .invalidPath(error) }
        }
        if carriesHop(kind) {
            switch kind {
            case .reserve, .delivered:
                // The link of a reserve; the receiver's position for delivered (it travels toward S).
                guard Int(message.hop) < message.path.hops else { throw .invalidField(.hop) }
            case .share:
                // A share names the intermediate node that made it: 1 … hops - 1.
                guard message.hop >= 1, Int(message.hop) < message.path.hops else { throw .invalidField(.hop) }
            default:
                guard Int(message.hop) < Path.maxHops else { throw .invalidField(.hop) }
            }
        }
        switch kind {
        case .share:
            guard message.size >= 1 else { throw .invalidField(.size) }
        case .reserve:
            guard message.size >= 1 else { throw .invalidField(.size) }
            guard !message.units.isEmpty else { throw .invalidField(.units) }
        case .confirm:
            guard !message.units.isEmpty else { throw .invalidField(.units) }
        case .fail:
            guard FailReason(rawValue: message.reason) != nil else { throw .invalidField(.reason) }
        case .abortReply:
            guard AbortOutcome(rawValue: message.reason) != nil else { throw .invalidField(.reason) }
        case .delivered:
            guard message.reason & ~Message.noticeAwaited == 0 else { throw .invalidField(.reason) }
        case .commit:
            guard message.reason & ~Message.noticeAwaited == 0 else { throw .invalidField(.reason) }
            guard message.shareMask >> (Path.maxHops + 1) == 0 else { throw .invalidField(.shareMask) }
            guard !message.units.isEmpty else { throw .invalidField(.units) }
        case .linkState:
            guard message.subject.low != .none, message.subject.low < message.subject.high else {
                throw .invalidField(.subject)
            }
            // The origin (request.source) announces one of its own links.
            guard message.request.source == message.subject.low || message.request.source == message.subject.high
            else { throw .invalidField(.request) }
        default: break
        }
    }
}
