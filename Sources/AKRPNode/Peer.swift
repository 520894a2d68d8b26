import AKRPConfig
import AKRPEngine
import AKRPWire
import NIOCore

/// One neighbour as the box shell sees it: its TCP connection, the messages waiting for authentication
/// key, the frames waiting for the key unit that verifies them, and counters. Confined to the node's loop.
final class Peer {
    /// A message the engine produced for this neighbour, waiting to be keyed and sent.
    struct Outgoing {
        var message: Message
        var payload: [UInt8]
    }

    let neighbour: NodeID
    let address: NetworkAddress
    /// This box dials (its node ID is the lower one); otherwise it accepts.
    let dials: Bool
    var channel: (any Channel)?
    var handler: PeerChannelHandler?
    /// The neighbour's greeting arrived on the current connection (frames may flow).
    var greeted = false
    /// The neighbour's incarnation from its last greeting.
    var greetedIncarnation: UInt64 = 0
    var outgoing: [Outgoing] = []
    var outgoingStart = 0
    /// Frames received whose authentication unit is not delivered here yet, oldest first.
    var incoming: [[UInt8]] = []
    var reconnect: Scheduled<Void>?
    var backoff: Nanoseconds = 0
    var connectedSince: Nanoseconds = 0
    var consecutiveBadFrames = 0
    /// Since when the link's pool has been full with nothing usable (see `checkStalledPools`).
    var stalledSince: Nanoseconds?
    /// When this end last told the neighbour its position.
    var lastPositionSent: Nanoseconds = 0
    var counters = PeerCounters()
    /// Keys and seals the frames to the neighbour (hash key and pads from this end's own units).
    let sealer = PoolKeySealer()
    /// Verifies the neighbour's frames (its hash key and pads, looked up in this end's pool).
    let verifier = PoolKeyVerifier()
    /// Sequence numbers of the neighbour's messages as this end's engine sees them: the wire already refused
    /// replays and reordering, and the messages of one bundle share the bundle's number, so the shell numbers
    /// them itself, strictly increasing for as long as this process lives.
    var engineSequence: UInt64 = 0

    init(neighbour: NodeID, address: NetworkAddress, dials: Bool) {
        self.neighbour = neighbour
        self.address = address
        self.dials = dials
    }

    var isReady: Bool { channel != nil && greeted }
    var outgoingCount: Int { outgoing.count - outgoingStart }

    /// Wipes and forgets what waits (the connection is gone: like messages lost on the network), and the
    /// frame keys of the connection: a new one starts with new units.
    func dropQueues() {
        sealer.reset()
        verifier.reset()
        counters.messagesDropped += UInt64(outgoingCount)
        for i in outgoingStart..<outgoing.count { wipeBytes(&outgoing[i].payload) }
        outgoing.removeAll()
        outgoingStart = 0
        counters.framesDropped += UInt64(incoming.count)
        for i in incoming.indices { wipeBytes(&incoming[i]) }
        incoming.removeAll()
    }
}

/// Wipes an array of bytes in place (relay shares and frames are not secret on their own, but they are
/// derived from key and cost nothing to wipe).
func wipeBytes(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { wipe($0) }
}

/// What happened on one neighbour link, as the operator reads it in `akrpctl dump`.
struct PeerCounters {
    var connects: UInt64 = 0
    var disconnects: UInt64 = 0
    var connectFailures: UInt64 = 0
    var framesSent: UInt64 = 0
    var framesReceived: UInt64 = 0
    /// Protocol messages sent and received (a bundle frame carries several).
    var messagesSent: UInt64 = 0
    var messagesReceived: UInt64 = 0
    var bytesSent: UInt64 = 0
    var bytesReceived: UInt64 = 0
    /// Frames whose tag did not verify (forged or corrupted): dropped, never acted on.
    var framesForged: UInt64 = 0
    /// Frames keyed by a unit this end cannot use (stale, already used, not the sender's, outside the window).
    var framesUnverifiable: UInt64 = 0
    /// Authentic frames whose body the codec refused.
    var framesMalformed: UInt64 = 0
    /// Frames lost because too many waited for key, or the connection went away with them.
    var framesDropped: UInt64 = 0
    /// Streams closed because the neighbour sent bytes that are not frames.
    var garbageDisconnects: UInt64 = 0
    /// Messages lost because the neighbour was not connected or too many waited for key.
    var messagesDropped: UInt64 = 0
    var authenticationUnitsSent: UInt64 = 0
    var authenticationUnitsReceived: UInt64 = 0
    /// Hash keys dropped early because the neighbour's pool moved past them.
    var hashKeyRenewals: UInt64 = 0
    var restartsSeen: UInt64 = 0
    var greetingsRefused: UInt64 = 0
    /// Frames keyed outside this end's window, and position records received.
    var positionMismatches: UInt64 = 0
    var positionsReceived: UInt64 = 0
}
