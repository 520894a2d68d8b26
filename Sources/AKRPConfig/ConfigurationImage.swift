import AKRPEngine
import AKRPKeySource

/// The binary, checksummed image of a ``NodeConfiguration`` that the daemon runs from: one self-contained
/// byte string (it can travel inside an MCUboot container), made by `akrpctl config compile`.
///
/// Layout (all integers little-endian; docs/CONFIG.md has the full table):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic `89 41 4B 52 43 46 47 0A` (`\x89AKRCFG\n`) |
/// | 8 | 2 | format version, 1 |
/// | 10 | 2 | flags, 0 (no flag defined in version 1) |
/// | 12 | 4 | body length n, at most 1 MiB |
/// | 16 | 32 | SHA-256 over bytes 0..<16 followed by the body |
/// | 48 | n | body: every field of the configuration |
///
/// The first byte, 0x89, cannot start a UTF-8 text, so a file is an image exactly when it starts with it.
public enum ConfigurationImage {
    /// The eight bytes every image starts with.
    public static let magic: [UInt8] = [0x89, 0x41, 0x4B, 0x52, 0x43, 0x46, 0x47, 0x0A]
    /// The format version this build writes and reads.
    public static let version: UInt16 = 1
    /// Bytes before the body: magic, version, flags, body length, SHA-256.
    public static let headerSize = 48
    /// The largest body accepted.
    public static let maximumBodySize = 1 << 20
    /// The longest string accepted in a body, bytes.
    public static let maximumStringBytes = 4096

    /// The image of `configuration`. Lossless for any value; ``decode(_:)`` refuses it if the value
    /// does not validate.
    public static func encode(_ configuration: NodeConfiguration) -> [UInt8] {
        let body = encodeBody(configuration)
        var header = ImageWriter()
        header.bytes = magic
        header.u16(version)
        header.u16(0)
        header.u32(UInt32(clamping: body.count))
        let digest = sha256(header.bytes + body)
        return header.bytes + digest + body
    }

    /// Checks and decodes an image, then validates the configuration it holds. Never traps, whatever the
    /// bytes; no count read from the image makes it allocate more than the image's own size.
    /// - Throws: ``ConfigurationImageError`` for a bad magic, version, flags, length or checksum, trailing
    ///   bytes, a malformed body, or a configuration that does not validate.
    public static func decode(_ bytes: [UInt8]) throws(ConfigurationImageError) -> NodeConfiguration {
        guard bytes.count >= headerSize else {
            guard bytes.prefix(magic.count).elementsEqual(magic.prefix(bytes.count)) else { throw .badMagic }
            throw .truncatedHeader(bytes: bytes.count)
        }
        guard bytes[0..<8].elementsEqual(magic) else { throw .badMagic }
        var header = ImageReader(bytes, start: 8, end: 16)
        let version = try header.u16("version")
        guard version == Self.version else { throw .unsupportedVersion(version) }
        let flags = try header.u16("flags")
        guard flags == 0 else { throw .unsupportedFlags(flags) }
        let declared = try header.u32("length")
        guard declared <= maximumBodySize else { throw .bodyTooLarge(declared: declared) }
        let length = Int(declared)
        let available = bytes.count - headerSize
        if available < length { throw .truncatedBody(declared: length, available: available) }
        if available > length { throw .trailingBytes(count: available - length) }
        guard sha256(Array(bytes[0..<16]) + bytes[headerSize...]).elementsEqual(bytes[16..<headerSize]) else {
            throw .checksumMismatch
        }
        var reader = ImageReader(bytes, start: headerSize, end: bytes.count)
        let configuration = try decodeBody(&reader)
        guard reader.remaining == 0 else {
            throw reader.malformed(reader.offset, "end", "\(reader.remaining) bytes left after the last field")
        }
        do {
            try configuration.validate()
        } catch {
            throw .invalid(error)
        }
        return configuration
    }

    /// SHA-256 of `bytes` (to print an image's digest; `sha256sum` of the image file gives the same).
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] { SHA256.hash(bytes) }

    /// Whether `bytes` are meant as an image rather than text: they start with the magic's first byte,
    /// which no UTF-8 text starts with. A damaged image is still recognised (and then refused by
    /// ``decode(_:)`` with the reason).
    public static func looksLikeImage(_ bytes: [UInt8]) -> Bool { bytes.first == magic[0] }

    // MARK: body

    static func encodeBody(_ c: NodeConfiguration) -> [UInt8] {
        var w = ImageWriter()
        w.u32(c.node.rawValue)
        w.string(c.listen.host)
        w.u16(c.listen.port)
        w.string(c.controlSocket)
        w.string(c.stateDirectory)
        w.string(c.logLevel)
        w.u64(c.highWaterStep)

        let e = c.engine
        w.i64(e.unitSize)
        w.i64(e.poolCapacity)
        w.u64(e.ownershipBlock)
        w.i64(e.maxRequestUnits)
        w.i64(e.recordCapacity)
        w.i64(e.sourceCapacity)
        w.i64(e.accumulatorCapacity)
        w.i64(e.outboxCapacity)
        w.i64(e.eventCapacity)
        w.i64(e.maxNeighbours)
        w.i64(e.paths)
        w.bool(e.adaptiveMultipath)
        w.u64(e.latencyBudget)
        w.u64(e.lease)
        w.u64(e.completionGrace)
        w.u64(e.branchWindow)
        w.i64(e.reroutes)
        w.u64(e.retryInterval)
        w.i64(e.abortAttempts)
        w.u64(e.linkStateInterval)
        w.u64(e.linkStateCheckInterval)
        w.i64(e.linkStateRadius)
        w.bool(e.nominalRateBeforePattern)
        w.bool(e.detourBudget != nil)
        if let detour = e.detourBudget { w.u64(detour) }
        w.bool(e.keyAwareRouting)
        w.bool(e.borrowing)
        w.bool(e.yieldAtCommit)
        w.u64(e.yieldMargin)
        w.f64(e.etaDeviations)
        w.i64(e.authenticationReserve)

        w.i64(c.keyStore.capacity)
        w.u64(c.keyStore.expiry)
        w.u64(c.keyStore.requestTimeout)

        w.u64(c.peers.reconnectMinimum)
        w.u64(c.peers.reconnectMaximum)
        w.i64(c.peers.keepAliveSeconds)
        w.i64(c.peers.pendingFrames)
        w.i64(c.peers.pendingMessages)

        w.count(c.topology.nodes.count)
        for n in c.topology.nodes {
            w.u32(n.id.rawValue)
            w.string(n.name)
        }
        w.count(c.topology.links.count)
        for l in c.topology.links {
            w.u32(l.a.rawValue)
            w.u32(l.b.rawValue)
            w.u64(l.bitsPerSecond)
            w.u64(l.delay)
        }

        w.count(c.neighbours.count)
        for n in c.neighbours {
            w.u32(n.node.rawValue)
            w.string(n.address.host)
            w.u16(n.address.port)
            switch n.source {
            case .simulated(let seed, let epoch, let bitsPerSecond, let blockPeriod, let jitter):
                w.u8(SourceKind.simulated.rawValue)
                w.u64(seed)
                w.u64(epoch)
                w.u64(bitsPerSecond)
                w.u64(blockPeriod)
                w.f64(jitter)
            case .usb(let serial):
                w.u8(SourceKind.usb.rawValue)
                w.string(serial)
            case .trace(let path):
                w.u8(SourceKind.trace.rawValue)
                w.string(path)
            }
        }
        encodeKeyDelivery(c, into: &w)
        ConfigurationImageExtension.encode(c, into: &w)
        return w.bytes
    }

    /// The source kind byte of a neighbour.
    enum SourceKind: UInt8 {
        case simulated = 1
        case usb = 2
        case trace = 3
    }

    static func decodeBody(_ r: inout ImageReader) throws(ConfigurationImageError) -> NodeConfiguration {
        let maxString = maximumStringBytes
        let node = NodeID(try r.u32("node"))
        let host = try r.string("listen", maximum: maxString)
        let listen = NetworkAddress(host: host, port: try r.u16("listen"))
        let controlSocket = try r.string("control-socket", maximum: maxString)
        let stateDirectory = try r.string("state-dir", maximum: maxString)
        let logLevel = try r.string("log-level", maximum: maxString)
        let highWaterStep = try r.u64("high-water-step")

        var e = EngineConfiguration()
        e.unitSize = try r.i64("unit-size")
        e.poolCapacity = try r.i64("pool-capacity")
        e.ownershipBlock = try r.u64("ownership-block")
        e.maxRequestUnits = try r.i64("max-request-units")
        e.recordCapacity = try r.i64("records")
        e.sourceCapacity = try r.i64("sources")
        e.accumulatorCapacity = try r.i64("accumulators")
        e.outboxCapacity = try r.i64("outbox")
        e.eventCapacity = try r.i64("events")
        e.maxNeighbours = try r.i64("max-neighbours")
        e.paths = try r.i64("paths")
        e.adaptiveMultipath = try r.bool("adaptive-multipath")
        e.latencyBudget = try r.u64("latency-budget-ms")
        e.lease = try r.u64("lease-ms")
        e.completionGrace = try r.u64("completion-grace-ms")
        e.branchWindow = try r.u64("branch-window-ms")
        e.reroutes = try r.i64("reroutes")
        e.retryInterval = try r.u64("retry-interval-ms")
        e.abortAttempts = try r.i64("abort-attempts")
        e.linkStateInterval = try r.u64("link-state-interval-ms")
        e.linkStateCheckInterval = try r.u64("link-state-check-ms")
        e.linkStateRadius = try r.i64("link-state-radius")
        e.nominalRateBeforePattern = try r.bool("nominal-rate-before-pattern")
        e.detourBudget = try r.bool("detour-budget-ms") ? try r.u64("detour-budget-ms") : nil
        e.keyAwareRouting = try r.bool("key-aware-routing")
        e.borrowing = try r.bool("borrowing")
        e.yieldAtCommit = try r.bool("yield")
        e.yieldMargin = try r.u64("yield-margin-ms")
        e.etaDeviations = try r.f64("eta-deviations")
        e.authenticationReserve = try r.i64("authentication-reserve")

        var keys = KeyStoreSettings()
        keys.capacity = try r.i64("capacity")
        keys.expiry = try r.u64("expiry-s")
        keys.requestTimeout = try r.u64("request-timeout-ms")

        var peers = PeerSettings()
        peers.reconnectMinimum = try r.u64("reconnect-min-ms")
        peers.reconnectMaximum = try r.u64("reconnect-max-ms")
        peers.keepAliveSeconds = try r.i64("keepalive-s")
        peers.pendingFrames = try r.i64("pending-frames")
        peers.pendingMessages = try r.i64("pending-messages")

        var nodes: [TopologyDescription.Node] = []
        let nodeCount = try r.count("topology nodes", maximum: ConfigurationLimits.topologyNodes.upperBound, itemSize: 8)
        nodes.reserveCapacity(nodeCount)
        for _ in 0..<nodeCount {
            let id = NodeID(try r.u32("node"))
            nodes.append(TopologyDescription.Node(id: id, name: try r.string("node", maximum: maxString)))
        }
        var links: [TopologyDescription.Link] = []
        let linkCount = try r.count("topology links", maximum: ConfigurationLimits.topologyLinks.upperBound, itemSize: 24)
        links.reserveCapacity(linkCount)
        for _ in 0..<linkCount {
            let a = NodeID(try r.u32("link"))
            let b = NodeID(try r.u32("link"))
            links.append(
                TopologyDescription.Link(a: a, b: b, bitsPerSecond: try r.u64("rate"), delay: try r.u64("delay-ms")))
        }

        var neighbours: [NeighbourConfiguration] = []
        let neighbourCount = try r.count("neighbours", maximum: ConfigurationLimits.maxNeighbours.upperBound, itemSize: 15)
        neighbours.reserveCapacity(neighbourCount)
        for _ in 0..<neighbourCount {
            let node = NodeID(try r.u32("neighbour"))
            let host = try r.string("address", maximum: maxString)
            let address = NetworkAddress(host: host, port: try r.u16("address"))
            let at = r.offset
            let source: KeySourceDescription
            switch SourceKind(rawValue: try r.u8("source")) {
            case .simulated:
                source = .simulated(
                    seed: try r.u64("seed"), epoch: try r.u64("epoch"), bitsPerSecond: try r.u64("rate"),
                    blockPeriod: try r.u64("block-ms"), jitter: try r.f64("jitter"))
            case .usb:
                source = .usb(serial: try r.string("serial", maximum: maxString))
            case .trace:
                source = .trace(path: try r.string("path", maximum: maxString))
            case nil:
                throw r.malformed(at, "source", "unknown source kind \(r.bytes[at]) (1 simulated, 2 usb, 3 trace)")
            }
            neighbours.append(NeighbourConfiguration(node: node, address: address, source: source))
        }

        var c = NodeConfiguration(
            node: node, listen: listen, controlSocket: controlSocket, stateDirectory: stateDirectory,
            topology: TopologyDescription(nodes: nodes, links: links), neighbours: neighbours)
        c.logLevel = logLevel
        c.highWaterStep = highWaterStep
        c.engine = e
        c.keyStore = keys
        c.peers = peers
        try decodeKeyDelivery(&r, into: &c)
        try ConfigurationImageExtension.decode(&r, into: &c)
        return c
    }
}
