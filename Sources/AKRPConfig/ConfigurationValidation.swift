import AKRPEngine

extension NodeConfiguration {
    /// Checks that the box can run from this configuration: every value in its range
    /// (``ConfigurationLimits``), the engine configuration valid, the topology valid and connected with this
    /// node in it, and exactly one neighbour entry per neighbour of this node in the topology, each at its
    /// own address. Both the text parser and the image decoder call it, so a file of either kind is
    /// checked the same way.
    /// - Throws: ``ConfigurationValidationError`` naming the section and field (as the text format names
    ///   them) of the first problem found.
    public func validate() throws(ConfigurationValidationError) {
        var check = ConfigurationChecker()
        try check.top(self)
        try check.engine(engine)
        try check.keys(keyStore)
        try check.peers(peers)
        try check.topology(self)
        try check.neighbours(self)
        try check.keyDelivery(self)
    }
}

/// The checks of ``NodeConfiguration/validate()``, section by section.
struct ConfigurationChecker {
    typealias Limits = ConfigurationLimits
    typealias Failure = ConfigurationValidationError

    // MARK: top level

    mutating func top(_ c: NodeConfiguration) throws(Failure) {
        if c.node == .none { throw .invalid(place: .top, field: "node", reason: "must be a non-zero node ID, got 0") }
        try address(c.listen, place: .top, field: "listen")
        try path(c.controlSocket, Limits.controlSocketBytes, place: .top, field: "control-socket")
        try path(c.stateDirectory, Limits.pathBytes, place: .top, field: "state-dir")
        guard Limits.logLevels.contains(c.logLevel) else {
            throw .invalid(
                place: .top, field: "log-level",
                reason: "must be one of \(Limits.logLevels.joined(separator: "|")), got '\(c.logLevel)'")
        }
        try range(c.highWaterStep, Limits.highWaterStep, "units", place: .top, field: "high-water-step")
    }

    // MARK: [engine]

    mutating func engine(_ e: EngineConfiguration) throws(Failure) {
        let p = ConfigurationPlace.engine
        try range(e.unitSize, Limits.unitSize, "bytes", place: p, field: "unit-size")
        try range(e.poolCapacity, Limits.poolCapacity, "units", place: p, field: "pool-capacity")
        try range(e.ownershipBlock, Limits.ownershipBlock, "units", place: p, field: "ownership-block")
        try range(e.maxRequestUnits, Limits.maxRequestUnits, "units", place: p, field: "max-request-units")
        if e.maxRequestUnits * e.unitSize > Limits.maxRequestBytes {
            throw .invalid(
                place: p, field: "max-request-units",
                reason: "\(e.maxRequestUnits) units of \(e.unitSize) bytes exceed \(Limits.maxRequestBytes) bytes per request")
        }
        if e.maxRequestUnits > e.poolCapacity {
            throw .invalid(
                place: p, field: "max-request-units",
                reason: "must be at most pool-capacity (\(e.poolCapacity)), got \(e.maxRequestUnits)")
        }
        try range(e.recordCapacity, Limits.tableCapacity, "records", place: p, field: "records")
        try range(e.sourceCapacity, Limits.tableCapacity, "requests", place: p, field: "sources")
        try range(e.accumulatorCapacity, Limits.tableCapacity, "accumulators", place: p, field: "accumulators")
        try range(e.outboxCapacity, Limits.bufferCapacity, "messages", place: p, field: "outbox")
        try range(e.eventCapacity, Limits.bufferCapacity, "events", place: p, field: "events")
        try range(e.maxNeighbours, Limits.maxNeighbours, "links", place: p, field: "max-neighbours")
        try range(e.paths, Limits.paths, "paths", place: p, field: "paths")
        try duration(e.latencyBudget, Limits.duration, place: p, field: "latency-budget-ms")
        try duration(e.lease, Limits.positiveDuration, place: p, field: "lease-ms")
        try duration(e.completionGrace, Limits.duration, place: p, field: "completion-grace-ms")
        try duration(e.branchWindow, Limits.duration, place: p, field: "branch-window-ms")
        try range(e.reroutes, Limits.reroutes, "paths", place: p, field: "reroutes")
        try duration(e.retryInterval, Limits.positiveDuration, place: p, field: "retry-interval-ms")
        try range(e.abortAttempts, Limits.abortAttempts, "attempts", place: p, field: "abort-attempts")
        try duration(e.linkStateInterval, Limits.duration, place: p, field: "link-state-interval-ms")
        try duration(e.linkStateCheckInterval, Limits.duration, place: p, field: "link-state-check-ms")
        try range(e.linkStateRadius, Limits.linkStateRadius, "hops", place: p, field: "link-state-radius")
        if let detour = e.detourBudget { try duration(detour, Limits.duration, place: p, field: "detour-budget-ms") }
        try duration(e.yieldMargin, Limits.duration, place: p, field: "yield-margin-ms")
        try real(e.etaDeviations, Limits.etaDeviations, place: p, field: "eta-deviations")
        try real(e.detourReserve, Limits.detourReserve, place: p, field: "detour-reserve")
        try duration(e.deliveredHold, Limits.deliveredHold, place: p, field: "delivered-hold-ms")
        try duration(e.linkStateHold, Limits.linkStateHold, place: p, field: "link-state-hold-ms")
        try duration(e.frameHold, Limits.frameHold, place: p, field: "frame-hold-ms")
        if e.authenticationReserve < 0 || e.authenticationReserve >= e.poolCapacity {
            throw .invalid(
                place: p, field: "authentication-reserve",
                reason: "must be 0…\(e.poolCapacity - 1) units (less than pool-capacity), got \(e.authenticationReserve)")
        }
        // Everything the engine checks is checked above with the text format's names; this only guards
        // against a new engine rule not yet mirrored here.
        do {
            try e.validate()
        } catch {
            throw Self.engineFailure(error)
        }
    }

    /// The engine's own complaint, with its field renamed as the text format names it.
    static func engineFailure(_ error: ConfigurationError) -> Failure {
        switch error {
        case .invalid(let field, let reason):
            .invalid(place: .engine, field: engineFieldNames[field] ?? field, reason: reason)
        case .topology(let reason):
            .invalid(place: .topology, field: nil, reason: reason)
        }
    }

    /// `EngineConfiguration` property names → text format field names.
    static let engineFieldNames: [String: String] = [
        "unitSize": "unit-size", "poolCapacity": "pool-capacity", "ownershipBlock": "ownership-block",
        "maxRequestUnits": "max-request-units", "recordCapacity": "records", "sourceCapacity": "sources",
        "accumulatorCapacity": "accumulators", "outboxCapacity": "outbox", "eventCapacity": "events",
        "maxNeighbours": "max-neighbours", "paths": "paths", "adaptiveMultipath": "adaptive-multipath",
        "latencyBudget": "latency-budget-ms", "lease": "lease-ms", "completionGrace": "completion-grace-ms",
        "branchWindow": "branch-window-ms", "reroutes": "reroutes", "retryInterval": "retry-interval-ms",
        "abortAttempts": "abort-attempts", "linkStateInterval": "link-state-interval-ms",
        "linkStateCheckInterval": "link-state-check-ms", "linkStateRadius": "link-state-radius",
        "nominalRateBeforePattern": "nominal-rate-before-pattern", "detourBudget": "detour-budget-ms",
        "keyAwareRouting": "key-aware-routing", "borrowing": "borrowing", "yieldAtCommit": "yield",
        "yieldMargin": "yield-margin-ms", "etaDeviations": "eta-deviations",
        "authenticationReserve": "authentication-reserve", "deliveredHold": "delivered-hold-ms",
        "linkStateHold": "link-state-hold-ms", "detourReserve": "detour-reserve", "frameHold": "frame-hold-ms",
    ]

    // MARK: [keys], [peers]

    mutating func keys(_ k: KeyStoreSettings) throws(Failure) {
        try range(k.capacity, Limits.keyStoreCapacity, "keys", place: .keys, field: "capacity")
        if !Limits.positiveDuration.contains(k.expiry) {
            throw .invalid(
                place: .keys, field: "expiry-s",
                reason: Self.durationBounds(Limits.positiveDuration, seconds: true) + ", got \(TextValue.seconds(k.expiry))")
        }
        try duration(k.requestTimeout, Limits.positiveDuration, place: .keys, field: "request-timeout-ms")
    }

    mutating func peers(_ p: PeerSettings) throws(Failure) {
        try duration(p.reconnectMinimum, Limits.positiveDuration, place: .peers, field: "reconnect-min-ms")
        try duration(p.reconnectMaximum, Limits.positiveDuration, place: .peers, field: "reconnect-max-ms")
        if p.reconnectMaximum < p.reconnectMinimum {
            throw .invalid(
                place: .peers, field: "reconnect-max-ms",
                reason: "must be at least reconnect-min-ms (\(TextValue.milliseconds(p.reconnectMinimum))), got \(TextValue.milliseconds(p.reconnectMaximum))")
        }
        try range(p.keepAliveSeconds, Limits.keepAliveSeconds, "s", place: .peers, field: "keepalive-s")
        try range(p.pendingFrames, Limits.pending, "frames", place: .peers, field: "pending-frames")
        try range(p.pendingMessages, Limits.pending, "messages", place: .peers, field: "pending-messages")
    }

    // MARK: [topology]

    /// The engine topology, once ``topology(_:)`` has built it.
    var built: Topology?

    mutating func topology(_ c: NodeConfiguration) throws(Failure) {
        let t = c.topology
        if !Limits.topologyNodes.contains(t.nodes.count) {
            throw .invalid(
                place: .topology, field: "node",
                reason: "must list \(Limits.topologyNodes.lowerBound)…\(Limits.topologyNodes.upperBound) nodes, got \(t.nodes.count)")
        }
        if !Limits.topologyLinks.contains(t.links.count) {
            throw .invalid(
                place: .topology, field: "link", reason: "must list at most \(Limits.topologyLinks.upperBound) links, got \(t.links.count)")
        }
        var ids: [NodeID: Int] = [:]
        var names: [String: Int] = [:]
        for (i, n) in t.nodes.enumerated() {
            let place = ConfigurationPlace.topologyNode(index: i, id: n.id)
            if n.id == .none { throw .invalid(place: place, field: "node", reason: "node ID 0 is reserved") }
            if let first = ids[n.id] {
                throw .invalid(place: place, field: "node", reason: "node ID \(n.id.rawValue) is listed twice (also node #\(first + 1))")
            }
            if let problem = Self.nodeNameProblem(n.name) { throw .invalid(place: place, field: "node", reason: problem) }
            if let first = names[n.name] {
                throw .invalid(place: place, field: "node", reason: "name '\(n.name)' is used twice (also node \(t.nodes[first].id.rawValue))")
            }
            ids[n.id] = i
            names[n.name] = i
        }
        var links: [LinkID: Int] = [:]
        for (i, l) in t.links.enumerated() {
            let place = ConfigurationPlace.topologyLink(index: i, a: l.a, b: l.b)
            for end in [l.a, l.b] where ids[end] == nil {
                throw .invalid(place: place, field: "link", reason: "node \(end.rawValue) is not listed in the topology")
            }
            if l.a == l.b { throw .invalid(place: place, field: "link", reason: "links node \(l.a.rawValue) to itself") }
            if let first = links[LinkID(l.a, l.b)] {
                throw .invalid(place: place, field: "link", reason: "is listed twice (also link #\(first + 1))")
            }
            links[LinkID(l.a, l.b)] = i
            try range(l.bitsPerSecond, Limits.bitsPerSecond, "bits per second", place: place, field: "rate")
            try duration(l.delay, Limits.linkDelay, place: place, field: "delay-ms")
        }
        guard ids[c.node] != nil else {
            throw .invalid(place: .top, field: "node", reason: "node \(c.node.rawValue) is not listed in the [topology]")
        }
        let topology: Topology
        do {
            topology = try t.topology(unitSize: c.engine.unitSize)
        } catch {
            throw Self.engineFailure(error)
        }
        if let stranded = Self.unreachable(from: c.node, in: topology) {
            let name = t.nodes.first { $0.id == stranded }?.name ?? ""
            throw .invalid(
                place: .topology, field: nil,
                reason: "is not connected: node \(stranded.rawValue) '\(name)' cannot be reached from node \(c.node.rawValue)")
        }
        let degree = topology.neighbours(of: c.node).count
        if degree > c.engine.maxNeighbours {
            throw .invalid(
                place: .engine, field: "max-neighbours",
                reason: "node \(c.node.rawValue) has \(degree) links in the topology, more than \(c.engine.maxNeighbours)")
        }
        let memory = Engine.memoryFootprint(configuration: c.engine, topology: topology, links: degree)
        if memory > Limits.engineMemory {
            throw .invalid(
                place: .engine, field: nil,
                reason: "pools and tables need \(memory >> 20) MiB, more than \(Limits.engineMemory >> 20) MiB")
        }
        built = topology
    }

    /// A node not reachable from `start`, or nil when the topology is connected.
    static func unreachable(from start: NodeID, in topology: Topology) -> NodeID? {
        if topology.isConnected { return nil }
        var seen: Set<NodeID> = [start]
        var stack = [start]
        while let x = stack.popLast() {
            for (y, _) in topology.neighbours(of: x) where !seen.contains(y) {
                seen.insert(y)
                stack.append(y)
            }
        }
        return topology.nodes.first { !seen.contains($0) }
    }

    /// Why `name` is not a usable node name, or nil.
    static func nodeNameProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        let allowed = bytes.allSatisfy {
            TextValue.isDigit($0) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z"))
                || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || $0 == UInt8(ascii: ".")
                || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
        guard allowed, Limits.nodeNameBytes.contains(bytes.count) else {
            return "name must be 1…\(Limits.nodeNameBytes.upperBound) characters of A-Z a-z 0-9 . _ -, got '\(name)'"
        }
        if bytes.allSatisfy(TextValue.isDigit) { return "name must not be only digits (it would read as a node ID), got '\(name)'" }
        return nil
    }

    // MARK: [neighbour N]

    mutating func neighbours(_ c: NodeConfiguration) throws(Failure) {
        guard let topology = built else { return }
        let adjacent = topology.neighbours(of: c.node)
        var seen: [NodeID: Int] = [:]
        var addresses: [String: Int] = [:]
        for (i, n) in c.neighbours.enumerated() {
            let place = ConfigurationPlace.neighbour(index: i, node: n.node)
            if n.node == c.node {
                throw .extraNeighbour(index: i, node: n.node, reason: "node \(n.node.rawValue) is this node")
            }
            guard topology.index(of: n.node) != nil else {
                throw .extraNeighbour(index: i, node: n.node, reason: "node \(n.node.rawValue) is not listed in the [topology]")
            }
            guard adjacent.contains(where: { $0.node == n.node }) else {
                let name = c.topology.nodes.first { $0.id == n.node }?.name ?? ""
                throw .extraNeighbour(
                    index: i, node: n.node,
                    reason: "node \(n.node.rawValue) '\(name)' is not linked to this node (\(c.node.rawValue) '\(c.name)') in the topology")
            }
            if let first = seen[n.node] {
                throw .invalid(
                    place: place, field: nil,
                    reason: "node \(n.node.rawValue) is configured twice (also neighbour section #\(first + 1))")
            }
            seen[n.node] = i
            try address(n.address, place: place, field: "address")
            let key = Self.addressKey(n.address)
            if let first = addresses[key] {
                throw .invalid(
                    place: place, field: "address",
                    reason: "\(n.address) is also the address of [neighbour \(c.neighbours[first].node.rawValue)]")
            }
            if key == Self.addressKey(c.listen) {
                throw .invalid(place: place, field: "address", reason: "\(n.address) is this box's own listen address")
            }
            addresses[key] = i
            try source(n.source, place: place)
        }
        for (peer, link) in adjacent where seen[peer] == nil {
            let name = c.topology.nodes.first { $0.id == peer }?.name ?? ""
            throw .missingNeighbour(node: peer, name: name, link: link)
        }
    }

    mutating func source(_ s: KeySourceDescription, place: ConfigurationPlace) throws(Failure) {
        switch s {
        case .usb(let serial):
            try text(serial, Limits.serialBytes, place: place, field: "serial")
        case .trace(let path):
            try self.path(path, Limits.pathBytes, place: place, field: "path")
        case .simulated(_, _, let bitsPerSecond, let blockPeriod, let jitter):
            try range(bitsPerSecond, Limits.bitsPerSecond, "bits per second", place: place, field: "rate")
            try duration(blockPeriod, Limits.blockPeriod, place: place, field: "block-ms")
            try real(jitter, Limits.jitter, place: place, field: "jitter")
        }
    }

    /// Hosts compare without regard to case.
    static func addressKey(_ a: NetworkAddress) -> String { a.host.lowercased() + " \(a.port)" }

    // MARK: value checks

    func range<T: BinaryInteger>(
        _ value: T, _ allowed: ClosedRange<T>, _ unit: String, place: ConfigurationPlace, field: String
    ) throws(Failure) {
        guard allowed.contains(value) else {
            throw .invalid(place: place, field: field, reason: "must be \(allowed.lowerBound)…\(allowed.upperBound) \(unit), got \(value)")
        }
    }

    func duration(_ value: Nanoseconds, _ allowed: ClosedRange<Nanoseconds>, place: ConfigurationPlace, field: String) throws(Failure) {
        guard allowed.contains(value) else {
            throw .invalid(
                place: place, field: field,
                reason: Self.durationBounds(allowed, seconds: false) + ", got \(TextValue.milliseconds(value))")
        }
    }

    /// `must be 0…86400000 ms` or `must be more than 0 and at most 86400 s`.
    static func durationBounds(_ allowed: ClosedRange<Nanoseconds>, seconds: Bool) -> String {
        let unit = seconds ? "s" : "ms"
        let top = seconds ? TextValue.seconds(allowed.upperBound) : TextValue.milliseconds(allowed.upperBound)
        return allowed.lowerBound == 0 ? "must be 0…\(top) \(unit)" : "must be more than 0 and at most \(top) \(unit)"
    }

    func real(_ value: Double, _ allowed: ClosedRange<Double>, place: ConfigurationPlace, field: String) throws(Failure) {
        guard value >= allowed.lowerBound, value <= allowed.upperBound else {
            throw .invalid(
                place: place, field: field,
                reason: "must be \(TextValue.formatReal(allowed.lowerBound))…\(TextValue.formatReal(allowed.upperBound)), got \(value)")
        }
    }

    func address(_ a: NetworkAddress, place: ConfigurationPlace, field: String) throws(Failure) {
        if a.port == 0 { throw .invalid(place: place, field: field, reason: "port must be 1…65535, got 0") }
        if let problem = Self.hostProblem(a.host) { throw .invalid(place: place, field: field, reason: problem) }
    }

    /// Why `host` is not a host name, IPv4 or IPv6 literal, or nil.
    static func hostProblem(_ host: String) -> String? {
        let bytes = Array(host.utf8)
        guard Limits.hostBytes.contains(bytes.count) else {
            return "host must be 1…\(Limits.hostBytes.upperBound) bytes, got \(bytes.count)"
        }
        func isAlphanumeric(_ b: UInt8) -> Bool {
            TextValue.isDigit(b) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
        }
        if bytes.contains(UInt8(ascii: ":")) {
            // An IPv6 literal, optionally with a zone (`fe80::1%eth0`).
            let zoneStart = bytes.firstIndex(of: UInt8(ascii: "%")) ?? bytes.count
            let address = bytes[..<zoneStart]
            let zone = bytes[zoneStart...].dropFirst()
            let hex = address.allSatisfy {
                TextValue.isDigit($0) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f"))
                    || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "F")) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".")
            }
            let colons = address.filter { $0 == UInt8(ascii: ":") }.count
            let zoneOK = zoneStart == bytes.count
                || (!zone.isEmpty && zone.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") })
            guard hex, colons >= 2, zoneOK else { return "host '\(host)' is not an IPv6 address" }
            return nil
        }
        let allowed = bytes.allSatisfy {
            isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
        }
        guard allowed, let first = bytes.first, isAlphanumeric(first) else {
            return "host must be a host name or an IP address (letters, digits, '.', '-', '_'), got '\(host)'"
        }
        return nil
    }

    func path(_ value: String, _ allowed: ClosedRange<Int>, place: ConfigurationPlace, field: String) throws(Failure) {
        try text(value, allowed, place: place, field: field)
    }

    /// A string of `allowed` bytes of UTF-8 without control characters (they would not survive the text format).
    func text(_ value: String, _ allowed: ClosedRange<Int>, place: ConfigurationPlace, field: String) throws(Failure) {
        let count = value.utf8.count
        if count == 0 { throw .invalid(place: place, field: field, reason: "must not be empty") }
        if count > allowed.upperBound {
            throw .invalid(place: place, field: field, reason: "must be at most \(allowed.upperBound) bytes, got \(count)")
        }
        if value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw .invalid(place: place, field: field, reason: "must not contain control characters")
        }
    }
}

// MARK: [key-delivery] and [sae ID]

extension ConfigurationChecker {
    mutating func keyDelivery(_ c: NodeConfiguration) throws(Failure) {
        typealias L = KeyDeliveryLimits
        if let k = c.keyDelivery {
            let p = ConfigurationPlace.keyDelivery
            try address(k.listen, place: p, field: "listen")
            if let m = k.metricsListen { try address(m, place: p, field: "metrics-listen") }
            try path(k.certificate, Limits.pathBytes, place: p, field: "certificate")
            try path(k.privateKey, Limits.pathBytes, place: p, field: "private-key")
            try path(k.clientCA, Limits.pathBytes, place: p, field: "client-ca")
            try range(k.revoked.count, L.revoked, "fingerprints", place: p, field: "revoked")
            if k.revoked.contains(where: { $0.count != 32 }) {
                throw .invalid(place: p, field: "revoked", reason: "every fingerprint must be 32 bytes (SHA-256)")
            }
            try range(k.stockRequestBits, L.stockRequestBits, "bits", place: p, field: "stock-request-bits")
            let largest = c.engine.maxRequestUnits * c.engine.unitSize * 8
            if k.stockRequestBits % 8 != 0 || k.stockRequestBits > largest {
                throw .invalid(
                    place: p, field: "stock-request-bits",
                    reason: "must be a multiple of 8 and at most the largest request (max-request-units × unit-size × 8 = \(largest)), got \(k.stockRequestBits)")
            }
            try range(k.stockDepth, L.stockDepth, "relayed keys", place: p, field: "stock-depth")
            try duration(k.encWait, Limits.duration, place: p, field: "enc-wait-ms")
            for (field, v) in [("default-key-size", k.defaultKeySize), ("max-key-size", k.maxKeySize), ("min-key-size", k.minKeySize)] {
                try range(v, L.keySize, "bits", place: p, field: field)
                if v % 8 != 0 { throw .invalid(place: p, field: field, reason: "must be a multiple of 8, got \(v)") }
            }
            if !(k.minKeySize <= k.defaultKeySize && k.defaultKeySize <= k.maxKeySize) {
                throw .invalid(
                    place: p, field: "default-key-size",
                    reason: "must lie within min-key-size…max-key-size (\(k.minKeySize)…\(k.maxKeySize)), got \(k.defaultKeySize)")
            }
            // A key never spans two relayed keys; the binding secret takes 32 bytes of each.
            if k.maxKeySize / 8 > k.stockRequestBits / 8 - 32 {
                throw .invalid(
                    place: p, field: "max-key-size",
                    reason: "must leave room in one relayed key: at most stock-request-bits − 256 = \(k.stockRequestBits - 256), got \(k.maxKeySize)")
            }
            try range(k.maxKeysPerRequest, L.keysPerRequest, "keys", place: p, field: "max-keys-per-request")
            try range(k.heldRelays, L.heldRelays, "relayed keys", place: p, field: "held-relays")
            try duration(k.heldExpiry, Limits.positiveDuration, place: p, field: "held-expiry-s")
            try range(k.maxConnections, L.connections, "connections", place: p, field: "max-connections")
            try range(k.maxBodyBytes, L.bodyBytes, "bytes", place: p, field: "max-body-bytes")
            try duration(k.idleTimeout, Limits.positiveDuration, place: p, field: "idle-timeout-ms")
        }
        var seen: Set<String> = []
        for (index, s) in c.saes.enumerated() {
            let p = ConfigurationPlace.sae(index: index, id: s.id)
            if !L.saeIDBytes.contains(s.id.utf8.count) {
                throw .invalid(place: p, field: nil, reason: "an SAE ID must be 1…64 bytes, got \(s.id.utf8.count)")
            }
            if !s.id.utf8.allSatisfy({ ConfigurationChecker.isIDByte($0) }) {
                throw .invalid(place: p, field: nil, reason: "an SAE ID may only contain letters, digits, '.', '_' and '-', got '\(s.id)'")
            }
            if !seen.insert(s.id).inserted { throw .invalid(place: p, field: nil, reason: "SAE '\(s.id)' is registered twice") }
            guard c.topology.nodes.contains(where: { $0.id == s.node }) else {
                throw .invalid(place: p, field: "node", reason: "node \(s.node.rawValue) is not in the [topology]")
            }
            if !L.saeNode.contains(s.node.rawValue) {
                throw .invalid(place: p, field: "node", reason: "a box with SAEs must have a node ID 1…65535 (key_IDs carry it in 16 bits), got \(s.node.rawValue)")
            }
            if let f = s.fingerprint, f.count != 32 {
                throw .invalid(place: p, field: "fingerprint", reason: "must be 32 bytes (SHA-256)")
            }
            if let subject = s.subject, subject.isEmpty || subject.utf8.count > 1024 {
                throw .invalid(place: p, field: "subject", reason: "must be 1…1024 bytes, e.g. 'CN=sae-a,O=example'")
            }
            if s.node == c.node && c.keyDelivery != nil && s.subject == nil && s.fingerprint == nil {
                throw .invalid(
                    place: p, field: "fingerprint",
                    reason: "an SAE registered at this box needs a 'subject' or a 'fingerprint' of its client certificate")
            }
        }
        for (index, s) in c.saes.enumerated() {
            let p = ConfigurationPlace.sae(index: index, id: s.id)
            for slave in s.stockFor {
                guard let other = c.saes.first(where: { $0.id == slave }) else {
                    throw .invalid(place: p, field: "stock-for", reason: "no [sae \(slave)] in this file")
                }
                if other.node == s.node {
                    throw .invalid(place: p, field: "stock-for", reason: "'\(slave)' is at the same box; stocks are for SAEs at other boxes")
                }
            }
        }
    }

    static func isIDByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default: false
        }
    }
}
