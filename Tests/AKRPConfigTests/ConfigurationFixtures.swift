import AKRPConfig
import AKRPEngine

/// Configurations and texts shared by the configuration tests.
enum Fixtures {
    /// The full example of the format (every field written), as in docs/CONFIG.md.
    static let fullExample = """
        # akrpd configuration. '#' starts a comment (outside double quotes); blank lines are ignored.
        node = 2                          # this box's node ID (required)
        listen = 0.0.0.0:7402             # peer TCP listener host:port (required; [v6]:port accepted)
        control-socket = /run/akrpd/control.sock   # required
        state-dir = /var/lib/akrpd        # required
        log-level = info                  # optional, default info
        high-water-step = 16384           # optional, default 16384 units

        [engine]
        unit-size = 32
        pool-capacity = 4096
        ownership-block = 16
        max-request-units = 64
        records = 1024
        sources = 256
        accumulators = 128
        outbox = 1024
        events = 1024
        max-neighbours = 16
        paths = 1
        adaptive-multipath = no
        latency-budget-ms = 900
        lease-ms = 4000
        completion-grace-ms = 4000
        branch-window-ms = 50
        reroutes = 2
        retry-interval-ms = 200
        abort-attempts = 3
        link-state-interval-ms = 60000    # 0 = off
        link-state-check-ms = 1000
        link-state-radius = 16
        nominal-rate-before-pattern = yes
        detour-budget-ms = 0              # a number, or 'off'
        key-aware-routing = yes
        borrowing = yes
        yield = yes
        yield-margin-ms = 20
        eta-deviations = 2
        delivered-hold-ms = 100
        link-state-hold-ms = 25
        detour-reserve = 0.2
        frame-hold-ms = 20
        authentication-reserve = 16

        [keys]
        capacity = 4096
        expiry-s = 300
        request-timeout-ms = 10000

        [peers]
        reconnect-min-ms = 100
        reconnect-max-ms = 5000
        keepalive-s = 5
        pending-frames = 1024
        pending-messages = 4096

        [topology]
        node 1 alpha
        node 2 beta
        node 3 gamma
        link alpha beta rate=1000000 delay-ms=1
        link 2 3 rate=2000000 delay-ms=0.5

        [neighbour 1]
        address = 127.0.0.1:7401
        source = simulated
        seed = 42
        epoch = 1764547200
        rate = 1000000
        block-ms = 0
        jitter = 0

        [neighbour gamma]
        address = 127.0.0.1:7403
        source = usb
        serial = EMU00020003A

        # a trace source: source = trace, path = /path/to/trace (required)

        """

    /// The value of ``fullExample``.
    static var fullExampleValue: NodeConfiguration {
        NodeConfiguration(
            node: NodeID(2), listen: NetworkAddress(host: "0.0.0.0", port: 7402),
            controlSocket: "/run/akrpd/control.sock", stateDirectory: "/var/lib/akrpd",
            topology: TopologyDescription(
                nodes: [.init(id: NodeID(1), name: "alpha"), .init(id: NodeID(2), name: "beta"), .init(id: NodeID(3), name: "gamma")],
                links: [
                    .init(a: NodeID(1), b: NodeID(2), bitsPerSecond: 1_000_000, delay: 1_000_000),
                    .init(a: NodeID(2), b: NodeID(3), bitsPerSecond: 2_000_000, delay: 500_000),
                ]),
            neighbours: [
                NeighbourConfiguration(
                    node: NodeID(1), address: NetworkAddress(host: "127.0.0.1", port: 7401),
                    source: .simulated(
                        seed: 42, epoch: 1_764_547_200_000_000_000, bitsPerSecond: 1_000_000, blockPeriod: 0, jitter: 0)),
                NeighbourConfiguration(
                    node: NodeID(3), address: NetworkAddress(host: "127.0.0.1", port: 7403),
                    source: .usb(serial: "EMU00020003A")),
            ])
    }

    /// A minimal valid file; the malformed cases edit its lines (numbers in the comments).
    static let baseLines = [
        "node = 2",  // 1
        "listen = 0.0.0.0:7402",  // 2
        "control-socket = /run/akrpd/control.sock",  // 3
        "state-dir = /var/lib/akrpd",  // 4
        "",  // 5
        "[topology]",  // 6
        "node 1 alpha",  // 7
        "node 2 beta",  // 8
        "node 3 gamma",  // 9
        "link alpha beta rate=1000000",  // 10
        "link 2 3 rate=2000000 delay-ms=0.5",  // 11
        "",  // 12
        "[neighbour 1]",  // 13
        "address = 127.0.0.1:7401",  // 14
        "source = simulated",  // 15
        "seed = 42",  // 16
        "epoch = 1764547200",  // 17
        "",  // 18
        "[neighbour gamma]",  // 19
        "address = 127.0.0.1:7403",  // 20
        "source = usb",  // 21
        "serial = EMU00020003A",  // 22
    ]

    static var base: String { baseLines.joined(separator: "\n") + "\n" }

    /// ``base`` with line `number` (1-based) replaced by `text` (which may hold several lines, or none
    /// when nil).
    static func replacing(_ number: Int, with text: String?) -> String {
        var lines = baseLines
        if let text { lines[number - 1] = text } else { lines.remove(at: number - 1) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// ``base`` with `text` inserted after line `number` (0: at the start).
    static func inserting(_ text: String, after number: Int) -> String {
        var lines = baseLines
        lines.insert(text, at: number)
        return lines.joined(separator: "\n") + "\n"
    }

    /// ``base`` with lines `range` (1-based) removed.
    static func removing(_ range: ClosedRange<Int>) -> String {
        var lines = baseLines
        lines.removeSubrange((range.lowerBound - 1)...(range.upperBound - 1))
        return lines.joined(separator: "\n") + "\n"
    }

    /// A configuration with every setting away from its default, exercising the exact forms of the text
    /// format: fractional milliseconds, detour off, small reals, an IPv6 listener, quoted strings.
    static var unusual: NodeConfiguration {
        var c = fullExampleValue
        c.listen = NetworkAddress(host: "::1", port: 65_535)
        c.controlSocket = "/run/akrpd/a \"quoted\" #sock"
        c.stateDirectory = " /var/lib/akrpd\\state "
        c.logLevel = "debug"
        c.highWaterStep = 1 << 32
        c.engine.unitSize = 64
        c.engine.poolCapacity = 8192
        c.engine.ownershipBlock = 32
        c.engine.maxRequestUnits = 128
        c.engine.recordCapacity = 2048
        c.engine.sourceCapacity = 300
        c.engine.accumulatorCapacity = 64
        c.engine.outboxCapacity = 16
        c.engine.eventCapacity = 17
        c.engine.maxNeighbours = 2
        c.engine.paths = 3
        c.engine.adaptiveMultipath = true
        c.engine.latencyBudget = 1_500_000_001
        c.engine.lease = 1
        c.engine.completionGrace = 0
        c.engine.branchWindow = 123_456_789
        c.engine.reroutes = 0
        c.engine.retryInterval = 86_400_000_000_000
        c.engine.abortAttempts = 100
        c.engine.linkStateInterval = 0
        c.engine.linkStateCheckInterval = 7
        c.engine.linkStateRadius = 1
        c.engine.nominalRateBeforePattern = false
        c.engine.detourBudget = nil
        c.engine.keyAwareRouting = false
        c.engine.borrowing = false
        c.engine.yieldAtCommit = false
        c.engine.yieldMargin = 999_999
        c.engine.etaDeviations = 0.00001
        c.engine.authenticationReserve = 0
        c.engine.deliveredHold = 10_000_000_000
        c.engine.linkStateHold = 1
        c.engine.detourReserve = 10
        c.engine.frameHold = 10_000_000_000
        c.keyStore.capacity = 1_000_000
        c.keyStore.expiry = 1
        c.keyStore.requestTimeout = 2_500_000
        c.peers.reconnectMinimum = 1
        c.peers.reconnectMaximum = 1
        c.peers.keepAliveSeconds = 3600
        c.peers.pendingFrames = 1
        c.peers.pendingMessages = 1_000_000
        c.topology.links[0].delay = 0
        c.topology.links[1].bitsPerSecond = 1_000_000_000_000
        c.neighbours[0].address = NetworkAddress(host: "fe80::1%eth0", port: 1)
        c.neighbours[0].source = .simulated(
            seed: .max, epoch: 1_764_547_200_250_000_001, bitsPerSecond: 1, blockPeriod: 3_600_000_000_000, jitter: 0.9)
        c.neighbours[1].source = .trace(path: "/var/lib/akrpd/traces/link 2-3.csv")
        c.neighbours.swapAt(0, 1)
        return c
    }
}
