import AKRPEngine

/// The text parser behind ``ConfigurationText/parse(bytes:)``: collects the sections line by line (syntax,
/// unknown and repeated fields and sections), then reads typed values, resolves node names, and validates
/// the result with ``NodeConfiguration/validate()``, reporting every problem at its line.
struct ConfigurationParser {
    typealias Failure = ConfigurationFileError
    typealias Schema = ConfigurationSchema
    typealias Limits = ConfigurationLimits

    /// A `node ID NAME` line of `[topology]`.
    struct NodeLine {
        var id: NodeID
        var name: String
        var line: Int
    }

    /// A `link A B rate=R delay-ms=D` line of `[topology]`, its ends not yet resolved.
    struct LinkLine {
        var a: String
        var b: String
        var bitsPerSecond: UInt64
        var delay: Nanoseconds
        var line: Int
    }

    var map = ConfigurationSourceMap()
    /// The line of each singleton section's header, by header word.
    var sectionLines: [String: Int] = [:]
    var nodes: [NodeLine] = []
    var links: [LinkLine] = []
    var rawNeighbours: [RawSection] = []
    /// `[sae ID]` sections in written order.
    var rawSAEs: [RawSection] = []

    mutating func parse(_ bytes: [UInt8]) throws(Failure) -> NodeConfiguration {
        try collect(bytes)
        return try build()
    }

    // MARK: collecting lines

    private mutating func collect(_ bytes: [UInt8]) throws(Failure) {
        var current = RawSection(kind: .top)
        var anything = false
        for (index, raw) in ConfigurationLexer.lines(bytes).enumerated() {
            let number = index + 1
            let line: ConfigurationLexer.Line?
            do {
                line = try ConfigurationLexer.read(raw, wordsMode: current.kind == .topology)
            } catch {
                if let field = error.field {
                    throw .invalidValue(line: number, section: current.label, field: field, reason: error.reason)
                }
                throw .syntax(line: number, section: current.label, reason: error.reason)
            }
            guard let line else { continue }
            anything = true
            switch line {
            case .header(let words):
                store(current)
                current = try startSection(words, line: number)
            case .setting(let name, let value):
                try add(name, value, line: number, to: &current)
            case .words(let words):
                try topologyLine(words, line: number)
            }
        }
        store(current)
        if !anything { throw .emptyFile }
    }

    private mutating func store(_ section: RawSection) {
        switch section.kind {
        case .top: map.top = section
        case .engine: map.engine = section
        case .keys: map.keys = section
        case .peers: map.peers = section
        case .topology: map.topologyLine = section.line
        case .management: map.management = section
        case .neighbour: rawNeighbours.append(section)
        case .keyDelivery: map.keyDelivery = section
        case .sae: rawSAEs.append(section)
        }
    }

    private mutating func startSection(_ words: [String], line: Int) throws(Failure) -> RawSection {
        let word = words[0]
        let label = words.joined(separator: " ")
        let kind: Schema.Section
        switch word {
        case "engine": kind = .engine
        case "keys": kind = .keys
        case "peers": kind = .peers
        case "topology": kind = .topology
        case "management": kind = .management
        case "key-delivery": kind = .keyDelivery
        case "sae":
            guard words.count == 2 else {
                throw .syntax(line: line, section: nil, reason: "an sae section names one SAE ID: [sae alice-1], got [\(label)]")
            }
            return RawSection(kind: .sae(words[1]), label: label, line: line)
        case "neighbour":
            guard words.count == 2 else {
                throw .syntax(
                    line: line, section: nil,
                    reason: "a neighbour section names one node, by ID or name: [neighbour 3] or [neighbour gamma], got [\(label)]")
            }
            return RawSection(kind: .neighbour(words[1]), label: label, line: line)
        default:
            let suggestion = Schema.suggestion(for: word, among: Schema.sectionWords, maximumDistance: 2).map {
                ([$0] + words.dropFirst()).joined(separator: " ")
            }
            throw .unknownSection(line: line, section: label, suggestion: suggestion)
        }
        guard words.count == 1 else {
            throw .syntax(line: line, section: nil, reason: "section [\(word)] takes no argument, got [\(label)]")
        }
        if let first = sectionLines[word] { throw .duplicateSection(line: line, section: word, firstLine: first) }
        sectionLines[word] = line
        return RawSection(kind: kind, label: word, line: line)
    }

    private func add(_ name: String, _ value: String, line: Int, to section: inout RawSection) throws(Failure) {
        let fields = section.kind.fields
        guard fields.contains(name) else {
            if let close = Schema.suggestion(for: name, among: fields, maximumDistance: 1) {
                throw .unknownField(line: line, section: section.label, field: name, suggestion: close)
            }
            if let owner = Schema.owner(of: name, besides: section.kind) {
                throw .misplacedField(line: line, section: section.label, field: name, belongsIn: owner)
            }
            throw .unknownField(
                line: line, section: section.label, field: name, suggestion: Schema.suggestion(for: name, among: fields))
        }
        if let first = section.settings[name] {
            throw .duplicateField(line: line, section: section.label, field: name, firstLine: first.line)
        }
        section.settings[name] = RawSection.Setting(value: value, line: line)
    }

    // MARK: [topology] lines

    private mutating func topologyLine(_ words: [String], line: Int) throws(Failure) {
        if words[0] != "link", let setting = words.joined(separator: " ").split(separator: "=").first, words.contains(where: { $0.contains("=") }) {
            // A `field = value` setting after the [topology] header: say where it belongs.
            let name = setting.trimmingBlanks()
            if let owner = Schema.owner(of: name, besides: .topology) {
                throw .misplacedField(line: line, section: "topology", field: name, belongsIn: owner)
            }
        }
        switch words[0] {
        case "node":
            guard words.count == 3 else {
                throw .syntax(line: line, section: "topology", reason: "expected 'node ID NAME', e.g. 'node 1 alpha'")
            }
            let id = try nodeID(words[1], line: line)
            if let problem = ConfigurationChecker.nodeNameProblem(words[2]) {
                throw .invalidValue(line: line, section: "topology", field: "node", reason: problem)
            }
            if let first = nodes.first(where: { $0.id == id }) {
                throw .invalidValue(
                    line: line, section: "topology", field: "node",
                    reason: "node ID \(id.rawValue) is listed twice (first on line \(first.line))")
            }
            if let first = nodes.first(where: { $0.name == words[2] }) {
                throw .invalidValue(
                    line: line, section: "topology", field: "node",
                    reason: "name '\(words[2])' is used twice (first on line \(first.line))")
            }
            nodes.append(NodeLine(id: id, name: words[2], line: line))
            map.nodeLines.append(line)
        case "link":
            guard words.count >= 3 else {
                throw .syntax(
                    line: line, section: "topology",
                    reason: "expected 'link A B rate=BITS/S [delay-ms=MS]', e.g. 'link alpha beta rate=1000000 delay-ms=1'")
            }
            var attributes = RawSection(kind: .topology, label: "topology", line: line)
            for word in words.dropFirst(3) {
                let parts = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw .syntax(
                        line: line, section: "topology",
                        reason: "expected 'name=value' (no blanks around '=') after the link's ends, got '\(word)'")
                }
                let name = String(parts[0])
                guard Schema.linkAttributes.contains(name) else {
                    throw .unknownField(
                        line: line, section: "topology", field: name,
                        suggestion: Schema.suggestion(for: name, among: Schema.linkAttributes))
                }
                if attributes.settings[name] != nil {
                    throw .duplicateField(line: line, section: "topology", field: name, firstLine: line)
                }
                attributes.settings[name] = RawSection.Setting(value: String(parts[1]), line: line)
            }
            let reader = ConfigurationFieldReader(section: attributes)
            let rateText = try reader.required("rate")
            let rate = try reader.integer("rate", rateText, Limits.bitsPerSecond, "bits per second")
            var delay: Nanoseconds = ConfigurationLimits.millisecond
            try reader.duration("delay-ms", Limits.linkDelay, into: &delay)
            links.append(LinkLine(a: words[1], b: words[2], bitsPerSecond: rate, delay: delay, line: line))
            map.linkLines.append(line)
        default:
            let hint = Schema.suggestion(for: words[0], among: Schema.topologyKeywords).map { " (did you mean '\($0)'?)" } ?? ""
            throw .syntax(line: line, section: "topology", reason: "expected a 'node' or 'link' line, got '\(words[0])'" + hint)
        }
    }

    private func nodeID(_ text: String, line: Int) throws(Failure) -> NodeID {
        guard case .success(let n) = TextValue.unsigned(text), let id = UInt32(exactly: n), id != 0 else {
            throw .invalidValue(line: line, section: "topology", field: "node", reason: "node ID must be 1…\(UInt32.max), got '\(text)'")
        }
        return NodeID(id)
    }

    /// The node a link end or neighbour section names, by ID or name; nil when the topology has none.
    func resolve(_ reference: String) -> NodeID? {
        if let first = reference.utf8.first, TextValue.isDigit(first) {
            guard case .success(let n) = TextValue.unsigned(reference), let id = UInt32(exactly: n) else { return nil }
            return nodes.contains { $0.id.rawValue == id } ? NodeID(id) : nil
        }
        return nodes.first { $0.name == reference }?.id
    }

    func unknownNodeReason(_ reference: String) -> String {
        let hint = Schema.suggestion(for: reference, among: nodes.map(\.name)).map { " (did you mean '\($0)'?)" } ?? ""
        return "no node '\(reference)' in the [topology]" + hint
    }

    // MARK: building the value

    private mutating func build() throws(Failure) -> NodeConfiguration {
        let top = ConfigurationFieldReader(section: map.top)
        // Values written wrong are reported (at their line) before values not written at all.
        let node: UInt32? = try top.text("node").map { (v) throws(Failure) in try top.integer("node", v, 1...UInt32.max, "") }
        let listen = try top.text("listen").map { (v) throws(Failure) in try top.address("listen", v) }
        for field in Schema.requiredTopFields where top.text(field) == nil {
            throw .missingField(line: nil, section: nil, field: field)
        }
        guard let node, let listen else { throw .missingField(line: nil, section: nil, field: "node") }
        guard map.topologyLine != nil else { throw .missingSection(section: "topology") }
        let topology = try buildTopology()
        var c = NodeConfiguration(
            node: NodeID(node), listen: listen, controlSocket: try top.required("control-socket"),
            stateDirectory: try top.required("state-dir"), topology: topology, neighbours: [])
        top.string("log-level", into: &c.logLevel)
        try top.integer("high-water-step", Limits.highWaterStep, "units", into: &c.highWaterStep)
        if let engine = map.engine { try readEngine(ConfigurationFieldReader(section: engine), into: &c.engine) }
        if let keys = map.keys { try readKeys(ConfigurationFieldReader(section: keys), into: &c.keyStore) }
        if let peers = map.peers { try readPeers(ConfigurationFieldReader(section: peers), into: &c.peers) }
        if let m = map.management { try Self.readManagement(ConfigurationFieldReader(section: m), into: &c.management) }
        c.neighbours = try buildNeighbours(c)
        try readKeyDelivery(into: &c)
        do {
            try c.validate()
        } catch {
            throw map.fileError(error)
        }
        return c
    }

    private func buildTopology() throws(Failure) -> TopologyDescription {
        var resolved: [TopologyDescription.Link] = []
        for link in links {
            guard let a = resolve(link.a) else {
                throw .invalidValue(line: link.line, section: "topology", field: "link", reason: unknownNodeReason(link.a))
            }
            guard let b = resolve(link.b) else {
                throw .invalidValue(line: link.line, section: "topology", field: "link", reason: unknownNodeReason(link.b))
            }
            resolved.append(TopologyDescription.Link(a: a, b: b, bitsPerSecond: link.bitsPerSecond, delay: link.delay))
        }
        return TopologyDescription(nodes: nodes.map { TopologyDescription.Node(id: $0.id, name: $0.name) }, links: resolved)
    }

    private func readEngine(_ r: ConfigurationFieldReader, into e: inout EngineConfiguration) throws(Failure) {
        try r.integer("unit-size", Limits.unitSize, "bytes", into: &e.unitSize)
        try r.integer("pool-capacity", Limits.poolCapacity, "units", into: &e.poolCapacity)
        try r.integer("ownership-block", Limits.ownershipBlock, "units", into: &e.ownershipBlock)
        try r.integer("max-request-units", Limits.maxRequestUnits, "units", into: &e.maxRequestUnits)
        try r.integer("records", Limits.tableCapacity, "records", into: &e.recordCapacity)
        try r.integer("sources", Limits.tableCapacity, "requests", into: &e.sourceCapacity)
        try r.integer("accumulators", Limits.tableCapacity, "accumulators", into: &e.accumulatorCapacity)
        try r.integer("outbox", Limits.bufferCapacity, "messages", into: &e.outboxCapacity)
        try r.integer("events", Limits.bufferCapacity, "events", into: &e.eventCapacity)
        try r.integer("max-neighbours", Limits.maxNeighbours, "links", into: &e.maxNeighbours)
        try r.integer("paths", Limits.paths, "paths", into: &e.paths)
        try r.boolean("adaptive-multipath", into: &e.adaptiveMultipath)
        try r.duration("latency-budget-ms", Limits.duration, into: &e.latencyBudget)
        try r.duration("lease-ms", Limits.positiveDuration, into: &e.lease)
        try r.duration("completion-grace-ms", Limits.duration, into: &e.completionGrace)
        try r.duration("branch-window-ms", Limits.duration, into: &e.branchWindow)
        try r.integer("reroutes", Limits.reroutes, "paths", into: &e.reroutes)
        try r.duration("retry-interval-ms", Limits.positiveDuration, into: &e.retryInterval)
        try r.integer("abort-attempts", Limits.abortAttempts, "attempts", into: &e.abortAttempts)
        try r.duration("link-state-interval-ms", Limits.duration, into: &e.linkStateInterval)
        try r.duration("link-state-check-ms", Limits.duration, into: &e.linkStateCheckInterval)
        try r.integer("link-state-radius", Limits.linkStateRadius, "hops", into: &e.linkStateRadius)
        try r.boolean("nominal-rate-before-pattern", into: &e.nominalRateBeforePattern)
        if let detour = r.text("detour-budget-ms") {
            e.detourBudget = detour == "off" ? nil : try r.duration("detour-budget-ms", detour, Limits.duration)
        }
        try r.boolean("key-aware-routing", into: &e.keyAwareRouting)
        try r.boolean("borrowing", into: &e.borrowing)
        try r.boolean("yield", into: &e.yieldAtCommit)
        try r.duration("yield-margin-ms", Limits.duration, into: &e.yieldMargin)
        try r.real("eta-deviations", Limits.etaDeviations, into: &e.etaDeviations)
        try r.real("detour-reserve", Limits.detourReserve, into: &e.detourReserve)
        try r.duration("delivered-hold-ms", Limits.deliveredHold, into: &e.deliveredHold)
        try r.duration("link-state-hold-ms", Limits.linkStateHold, into: &e.linkStateHold)
        try r.duration("frame-hold-ms", Limits.frameHold, into: &e.frameHold)
        try r.integer("authentication-reserve", 0...(Limits.poolCapacity.upperBound - 1), "units", into: &e.authenticationReserve)
    }

    private func readKeys(_ r: ConfigurationFieldReader, into k: inout KeyStoreSettings) throws(Failure) {
        try r.integer("capacity", Limits.keyStoreCapacity, "keys", into: &k.capacity)
        try r.duration("expiry-s", Limits.positiveDuration, seconds: true, into: &k.expiry)
        try r.duration("request-timeout-ms", Limits.positiveDuration, into: &k.requestTimeout)
    }

    private func readPeers(_ r: ConfigurationFieldReader, into p: inout PeerSettings) throws(Failure) {
        try r.duration("reconnect-min-ms", Limits.positiveDuration, into: &p.reconnectMinimum)
        try r.duration("reconnect-max-ms", Limits.positiveDuration, into: &p.reconnectMaximum)
        try r.integer("keepalive-s", Limits.keepAliveSeconds, "s", into: &p.keepAliveSeconds)
        try r.integer("pending-frames", Limits.pending, "frames", into: &p.pendingFrames)
        try r.integer("pending-messages", Limits.pending, "messages", into: &p.pendingMessages)
    }

    // MARK: [neighbour N]

    private mutating func buildNeighbours(_ c: NodeConfiguration) throws(Failure) -> [NeighbourConfiguration] {
        // First every header (unknown node, the same node twice), then the fields.
        var resolved: [(node: NodeID, section: RawSection)] = []
        var firstLines: [NodeID: Int] = [:]
        for section in rawNeighbours {
            guard case .neighbour(let reference) = section.kind, let line = section.line, let label = section.label else { continue }
            guard let node = resolve(reference) else {
                throw .extraNeighbour(line: line, section: label, reason: unknownNodeReason(reference))
            }
            if let first = firstLines[node] { throw .duplicateSection(line: line, section: label, firstLine: first) }
            firstLines[node] = line
            resolved.append((node, section))
        }
        var result: [NeighbourConfiguration] = []
        for (node, section) in resolved {
            result.append(try neighbour(node, ConfigurationFieldReader(section: section), c))
            map.neighbours.append(section)
        }
        return result
    }

    private func neighbour(_ node: NodeID, _ r: ConfigurationFieldReader, _ c: NodeConfiguration) throws(Failure)
        -> NeighbourConfiguration
    {
        let address = try r.address("address", r.required("address"))
        let kind = try r.required("source")
        guard let own = Schema.sourceFields[kind] else {
            throw r.invalid("source", "must be \(Schema.sourceKinds.joined(separator: ", ")), got '\(kind)'")
        }
        for (field, setting) in r.section.settings.sorted(by: { $0.value.line < $1.value.line })
        where field != "address" && field != "source" && !own.contains(field) {
            let owner = Schema.sourceKinds.first { Schema.sourceFields[$0]?.contains(field) == true } ?? ""
            throw .invalidValue(
                line: setting.line, section: r.section.label, field: field,
                reason: "applies only to source = \(owner), not to source = \(kind)")
        }
        let source: KeySourceDescription
        switch kind {
        case "usb":
            source = .usb(serial: try r.required("serial"))
        case "trace":
            source = .trace(path: try r.required("path"))
        default:
            let seed: UInt64 = try r.integer("seed", r.required("seed"), 0...UInt64.max, "")
            let epochText = try r.required("epoch")
            let epoch: Nanoseconds
            switch TextValue.fixedPoint(epochText, fractionDigits: 9) {
            case .success(let ns): epoch = ns
            case .failure(.tooPrecise):
                throw r.invalid("epoch", "at most 9 decimal places (a nanosecond), got '\(epochText)'")
            case .failure(.tooLarge):
                throw r.invalid("epoch", "must be at most \(TextValue.seconds(.max)) (Unix time, seconds), got '\(epochText)'")
            case .failure(.syntax):
                throw r.invalid("epoch", "must be a Unix time in seconds (e.g. 1764547200 or 1764547200.25), got '\(epochText)'")
            }
            let link = c.topology.links.first { ($0.a == c.node && $0.b == node) || ($0.a == node && $0.b == c.node) }
            var rate = link?.bitsPerSecond ?? 0
            try r.integer("rate", Limits.bitsPerSecond, "bits per second", into: &rate)
            var block: Nanoseconds = 0
            try r.duration("block-ms", Limits.blockPeriod, into: &block)
            var jitter = 0.0
            try r.real("jitter", Limits.jitter, into: &jitter)
            source = .simulated(seed: seed, epoch: epoch, bitsPerSecond: rate, blockPeriod: block, jitter: jitter)
        }
        return NeighbourConfiguration(node: node, address: address, source: source)
    }
}

extension Substring {
    /// Without leading and trailing blanks (spaces and tabs).
    func trimmingBlanks() -> String {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
