public import AKRPEngine

/// The type of a control message between the companion tool (`akrpctl`) and a box, on the box's
/// local control socket. Values are the message-type byte of the frame; they never overlap
/// ``MessageKind``. Control frames carry the `local` flag and no authentication tag.
public enum ControlKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Asks for the engine's state dump, from byte `offset` on.
    case stateDumpRequest = 0x40
    /// One chunk of the state dump: `offset`, `totalLength`, then `dataLength` bytes of data.
    case stateDumpResponse = 0x41
    /// Asks for statistics page `page`.
    case statisticsRequest = 0x42
    /// One page of statistics: node totals and up to ``ControlMessage/maximumLinks`` links.
    case statisticsResponse = 0x43
    /// Asks for an end-to-end key of `keyLength` bytes with `destination`.
    case keyRequest = 0x44
    /// The answer to a key request: `status` 0 and the key bytes, or a ``FailReason`` value.
    case keyResponse = 0x45
    /// One chunk of a configuration image to flash: `totalLength`, `offset`, data.
    case configurationChunk = 0x46
    /// The box's answer to a configuration chunk: a ``ConfigurationStatus`` and the bytes accepted.
    case configurationAck = 0x47
    /// Asks for the delivered key `request` held in the box's key store (the destination end of a
    /// request fetches its key by ID). Answered with a ``keyResponse``; the key is handed out once.
    case keyFetchRequest = 0x48
    /// On a neighbour connection (not the control socket): the sender's pool head of the link
    /// (`position`) and its `incarnation`, as in the connection's greeting. Not authenticated: the
    /// receiver only ever moves its own pool forward to it (never past what the link can have produced),
    /// so that the two ends name the same units again after a restart or a lost stretch of key.
    case peerPosition = 0x49

    /// The kind's name as `akrpctl` prints it.
    public var description: String {
        switch self {
        case .stateDumpRequest: "state-dump-request"
        case .stateDumpResponse: "state-dump-response"
        case .statisticsRequest: "statistics-request"
        case .statisticsResponse: "statistics-response"
        case .keyRequest: "key-request"
        case .keyResponse: "key-response"
        case .configurationChunk: "configuration-chunk"
        case .configurationAck: "configuration-ack"
        case .keyFetchRequest: "key-fetch-request"
        case .peerPosition: "peer-position"
        }
    }
}

/// The box's verdict on a configuration chunk. Stable values.
public enum ConfigurationStatus: UInt8, Sendable, CaseIterable {
    /// The chunk was stored; send the next one from `offset`.
    case accepted = 0
    /// The last chunk arrived and the image was checked and flashed.
    case complete = 1
    /// The chunk does not start where the box expected (`offset` says where).
    case badOffset = 2
    /// The image was refused (too large, malformed, or failed its check).
    case rejected = 3
}

/// Statuses of a ``ControlKind/keyResponse`` that are not a ``FailReason`` of the engine: the box's
/// own reasons for not handing out a key. Stable values, disjoint from `FailReason`'s.
public enum KeyResponseStatus: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// No key with that ID is held (never delivered here, already fetched, or expired).
    case unknownKey = 0x80
    /// The request did not complete within the box's request timeout: no key was handed out (the
    /// source may hold a key whose arrival at the destination was never confirmed; it is wiped).
    case timedOut = 0x81
    /// The box refused the request at once: `keyLength` too large or not a whole number of bytes the
    /// engine can deliver, destination unknown or this box itself, no route, or a full table.
    case refused = 0x82
    /// The box is shutting down and takes no new requests.
    case shuttingDown = 0x83

    /// The status's name as `akrpctl` prints it.
    public var description: String {
        switch self {
        case .unknownKey: "unknown-key"
        case .timedOut: "timed-out"
        case .refused: "refused"
        case .shuttingDown: "shutting-down"
        }
    }
}

/// Key counters of one link, at one end.
public struct LinkStatistics: Sendable, Equatable {
    /// The link.
    public var link: LinkID
    /// Units free for reservation.
    public var availableUnits: UInt64
    /// Units reserved by requests.
    public var reservedUnits: UInt64
    /// Units consumed since start-up.
    public var consumedUnits: UInt64
    /// Units discarded since start-up.
    public var discardedUnits: UInt64
    /// Bytes of link key spent on frame authentication since start-up.
    public var authenticationBytes: UInt64

    /// Creates a statistics record; counters default to zero.
    public init(
        link: LinkID, availableUnits: UInt64 = 0, reservedUnits: UInt64 = 0, consumedUnits: UInt64 = 0,
        discardedUnits: UInt64 = 0, authenticationBytes: UInt64 = 0
    ) {
        self.link = link
        self.availableUnits = availableUnits
        self.reservedUnits = reservedUnits
        self.consumedUnits = consumedUnits
        self.discardedUnits = discardedUnits
        self.authenticationBytes = authenticationBytes
    }

    /// Encoded size: two node identifiers and five counters.
    static let encodedLength = 8 + 5 * 8
}

/// Box-wide counters.
public struct NodeStatistics: Sendable, Equatable {
    /// End-to-end keys delivered.
    public var deliveredKeys: UInt64 = 0
    /// Bytes of end-to-end key delivered.
    public var deliveredKeyBytes: UInt64 = 0
    /// Requests that failed.
    public var failedRequests: UInt64 = 0
    /// Bytes of link key spent on frame authentication, all links together.
    public var authenticationBytes: UInt64 = 0

    /// All counters zero.
    public init() {}

    static let encodedLength = 4 * 8
}

/// One control message. Like ``Message``, a flat value: each kind uses a subset of the fields (see
/// ``ControlKind`` and `docs/WIRE.md`), unused fields are zero. Bulk bytes (dump chunks, key bytes,
/// configuration chunks) travel as a separate data buffer of `dataLength` bytes.
public struct ControlMessage: Sendable, Equatable {
    /// Most links in one statistics page.
    public static let maximumLinks = 16
    /// Most data bytes in one control frame.
    public static let maximumDataLength = 16_384

    /// What the message is; also its type byte.
    public var kind: ControlKind
    /// Sending node (`.none` for the tool).
    public var from: NodeID
    /// Receiving node (`.none` for the tool).
    public var to: NodeID
    /// Request number chosen by the tool; a response repeats its request's number. Travels in the
    /// header's sequence field.
    public var correlation: UInt64
    /// Byte position in the state dump (dump request/response) or configuration image (chunk, ack).
    public var offset: UInt32
    /// Whole length of the state dump or configuration image, in bytes.
    public var totalLength: UInt32
    /// Statistics page asked for or returned.
    public var page: UInt16
    /// Number of statistics pages (response).
    public var pageCount: UInt16
    /// Box-wide counters (statistics response).
    public var totals: NodeStatistics
    /// Per-link counters; only the first `linkCount` are meaningful.
    public var links: InlineArray<16, LinkStatistics>
    /// Number of meaningful entries in `links`.
    public var linkCount: UInt8
    /// The other end of a requested key.
    public var destination: NodeID
    /// Requested or delivered key length, in bytes.
    public var keyLength: UInt16
    /// Key response: 0 for delivered, else a ``FailReason``; configuration ack: a ``ConfigurationStatus``.
    public var status: UInt8
    /// Key response: the key's identifier.
    public var request: RequestID
    /// Bytes of data that travel with the message.
    public var dataLength: UInt16
    /// Peer position: the sender's pool head of the link.
    public var position: UInt64
    /// Peer position: the sender's incarnation.
    public var incarnation: UInt64

    /// A control message of `kind` with every other field zero.
    public init(kind: ControlKind, from: NodeID = .none, to: NodeID = .none, correlation: UInt64 = 0) {
        self.kind = kind
        self.from = from
        self.to = to
        self.correlation = correlation
        offset = 0
        totalLength = 0
        page = 0
        pageCount = 0
        totals = NodeStatistics()
        links = InlineArray(repeating: LinkStatistics(link: LinkID(.none, .none)))
        linkCount = 0
        destination = .none
        keyLength = 0
        status = 0
        request = .none
        dataLength = 0
        position = 0
        incarnation = 0
    }

    /// Appends a link's counters to a statistics response.
    /// - Throws: `.invalidField(.linkCount)` when ``maximumLinks`` links are already there.
    public mutating func appendLink(_ statistics: LinkStatistics) throws(WireError) {
        guard Int(linkCount) < Self.maximumLinks else { throw .invalidField(.linkCount) }
        links[Int(linkCount)] = statistics
        linkCount += 1
    }

    /// Equal when every field and the meaningful `links` entries are equal.
    public static func == (a: ControlMessage, b: ControlMessage) -> Bool {
        guard a.kind == b.kind, a.from == b.from, a.to == b.to, a.correlation == b.correlation,
            a.offset == b.offset, a.totalLength == b.totalLength, a.page == b.page,
            a.pageCount == b.pageCount, a.totals == b.totals, a.linkCount == b.linkCount,
            a.destination == b.destination, a.keyLength == b.keyLength, a.status == b.status,
            a.request == b.request, a.dataLength == b.dataLength, a.position == b.position,
            a.incarnation == b.incarnation
        else { return false }
        var i = 0
        while i < Int(a.linkCount) {
            if a.links[i] != b.links[i] { return false }
            i += 1
        }
        return true
    }
}
