import AKRPEngine
import AKRPSimulation
import AKRPWire

/// Drives a ``ManualNetwork`` of real engines and, when `throughWire`, carries every message over
/// the wire layer: sealed by a ``FrameSealer``, opened by a ``FrameVerifier``, and the *decoded*
/// message is what the receiving engine gets. Without `throughWire` messages are handed over as
/// values (the reference run).
///
/// Each message is checked on the way: its decoded form must equal the original on every field the
/// receiver reads (``EngineField/read(by:)``), and its payload must arrive unchanged.
final class WireLoop {
    /// The authentication state of one directed link within one incarnation of its sender (a
    /// restarted sender starts its sequence numbers again: a re-keyed link, in this model).
    final class DirectedLink {
        var sealer: FrameSealer
        var verifier: FrameVerifier
        var sendKeys: CountingKeySupply
        var receiveKeys: CountingKeySupply

        init(from: NodeID, to: NodeID, firstSequence: UInt64, seed: UInt8) {
            sealer = FrameSealer(from: from, to: to, firstSequence: firstSequence)
            verifier = FrameVerifier(from: from, to: to, firstSequence: firstSequence)
            sendKeys = CountingKeySupply(seed: seed)
            receiveKeys = CountingKeySupply(seed: seed)
        }
    }

    let net: ManualNetwork
    let throughWire: Bool
    private var links: [String: DirectedLink] = [:]
    /// Every message the engines sent and the network carried or lost, in order, as sent.
    private(set) var sent: [Message] = []
    /// Per kind, the read fields seen non-zero in at least one message.
    private(set) var coverage: [MessageKind: Set<EngineField>] = [:]
    /// Messages whose decoded form differs from the original on a read field (or in payload).
    private(set) var mismatches: [String] = []
    /// Frames sealed and their total size in bytes (tags included).
    private(set) var frames = 0
    private(set) var frameBytes = 0

    init(_ net: ManualNetwork, throughWire: Bool) {
        self.net = net
        self.throughWire = throughWire
    }

    /// Delivers the oldest message of directed-link queue `q`.
    func deliver(queue q: Int) throws {
        guard let flight = net.queues[q].first else { return }
        record(flight.message)
        guard throughWire else { return net.deliver(queue: q) }
        let (decoded, payload) = try carry(flight)
        net.drop(queue: q)
        net.inject(decoded, payload: payload)
    }

    /// Loses the oldest message of queue `q`; over the wire it was sealed (its pad is spent), so the
    /// verifier sees a gap in the sequence numbers.
    func drop(queue q: Int) throws {
        guard let flight = net.queues[q].first else { return }
        record(flight.message)
        if throughWire { _ = try sealedFrame(flight) }
        net.drop(queue: q)
    }

    /// Delivers every message, oldest queue first.
    func run(limit: Int = 100_000) throws {
        var n = 0
        while n < limit, let q = net.busyQueues.first {
            try deliver(queue: q)
            n += 1
        }
    }

    /// Moves time forward and delivers what the timers sent.
    func advance(by dt: UInt64) throws {
        net.advance(by: dt)
        try run()
    }

    private func record(_ m: Message) {
        sent.append(m)
        for field in EngineField.read(by: m.kind) where field.isSet(in: m) {
            coverage[m.kind, default: []].insert(field)
        }
    }

    private func link(for m: Message) -> DirectedLink {
        let key = "\(m.from.rawValue)>\(m.to.rawValue)#\(m.incarnation)"
        if let l = links[key] { return l }
        let l = DirectedLink(
            from: m.from, to: m.to, firstSequence: m.sequence,
            seed: UInt8(truncatingIfNeeded: m.from.rawValue &* 31 &+ m.to.rawValue))
        links[key] = l
        return l
    }

    private func sealedFrame(_ flight: ManualNetwork.Flight) throws -> [UInt8] {
        let l = link(for: flight.message)
        let frame = try seal(flight.message, payload: flight.payload, sealer: &l.sealer, keys: &l.sendKeys)
        frames += 1
        frameBytes += frame.count
        return frame
    }

    private func carry(_ flight: ManualNetwork.Flight) throws -> (Message, [UInt8]) {
        let m = flight.message
        let frame = try sealedFrame(flight)
        let l = link(for: m)
        let (decoded, payload) = try open(frame, verifier: &l.verifier, keys: &l.receiveKeys)
        let sentView = EngineField.engineView(of: m)
        let receivedView = EngineField.engineView(of: decoded.message)
        if receivedView != sentView || payload != flight.payload {
            let differing = EngineField.read(by: m.kind).filter { field in
                var a = Message(kind: m.kind)
                var b = Message(kind: m.kind)
                field.copy(from: m, into: &a)
                field.copy(from: decoded.message, into: &b)
                return a != b
            }
            mismatches.append(
                "\(m.kind) \(m.from)>\(m.to) seq \(m.sequence): fields \(differing)"
                    + (payload != flight.payload ? " and payload" : "") + " changed on the wire")
        }
        return (decoded.message, payload)
    }
}
