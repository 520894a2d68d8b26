import AKRPEngine

/// Every field of a ``NodeConfiguration`` as JSON (`akrpctl config show --json`), for programs: keys are the
/// Swift property names, durations are integer nanoseconds (keys ending in `Nanoseconds`), a detour budget of
/// `off` is `null`, each neighbour's source is an object with a `kind`.
public enum ConfigurationJSON {
    /// The JSON text (indented by two spaces, keys in a fixed order, a final newline).
    public static func render(_ c: NodeConfiguration) -> String {
        var names: [NodeID: String] = [:]
        for n in c.topology.nodes { names[n.id] = n.name }
        let e = c.engine
        let value = JSONValue.object([
            ("node", .unsigned(UInt64(c.node.rawValue))),
            ("name", .string(c.name)),
            ("listen", address(c.listen)),
            ("controlSocket", .string(c.controlSocket)),
            ("stateDirectory", .string(c.stateDirectory)),
            ("logLevel", .string(c.logLevel)),
            ("highWaterStep", .unsigned(c.highWaterStep)),
            (
                "engine",
                .object([
                    ("unitSize", .signed(e.unitSize)),
                    ("poolCapacity", .signed(e.poolCapacity)),
                    ("ownershipBlock", .unsigned(e.ownershipBlock)),
                    ("maxRequestUnits", .signed(e.maxRequestUnits)),
                    ("recordCapacity", .signed(e.recordCapacity)),
                    ("sourceCapacity", .signed(e.sourceCapacity)),
                    ("accumulatorCapacity", .signed(e.accumulatorCapacity)),
                    ("outboxCapacity", .signed(e.outboxCapacity)),
                    ("eventCapacity", .signed(e.eventCapacity)),
                    ("maxNeighbours", .signed(e.maxNeighbours)),
                    ("paths", .signed(e.paths)),
                    ("adaptiveMultipath", .bool(e.adaptiveMultipath)),
                    ("latencyBudgetNanoseconds", .unsigned(e.latencyBudget)),
                    ("leaseNanoseconds", .unsigned(e.lease)),
                    ("completionGraceNanoseconds", .unsigned(e.completionGrace)),
                    ("branchWindowNanoseconds", .unsigned(e.branchWindow)),
                    ("reroutes", .signed(e.reroutes)),
                    ("retryIntervalNanoseconds", .unsigned(e.retryInterval)),
                    ("abortAttempts", .signed(e.abortAttempts)),
                    ("linkStateIntervalNanoseconds", .unsigned(e.linkStateInterval)),
                    ("linkStateCheckIntervalNanoseconds", .unsigned(e.linkStateCheckInterval)),
                    ("linkStateRadius", .signed(e.linkStateRadius)),
                    ("nominalRateBeforePattern", .bool(e.nominalRateBeforePattern)),
                    ("detourBudgetNanoseconds", e.detourBudget.map(JSONValue.unsigned) ?? .null),
                    ("detourReserve", .real(e.detourReserve)),
                    ("keyAwareRouting", .bool(e.keyAwareRouting)),
                    ("borrowing", .bool(e.borrowing)),
                    ("yieldAtCommit", .bool(e.yieldAtCommit)),
                    ("yieldMarginNanoseconds", .unsigned(e.yieldMargin)),
                    ("etaDeviations", .real(e.etaDeviations)),
                    ("deliveredHoldNanoseconds", .unsigned(e.deliveredHold)),
                    ("linkStateHoldNanoseconds", .unsigned(e.linkStateHold)),
                    ("frameHoldNanoseconds", .unsigned(e.frameHold)),
                    ("authenticationReserve", .signed(e.authenticationReserve)),
                ])
            ),
            (
                "keyStore",
                .object([
                    ("capacity", .signed(c.keyStore.capacity)),
                    ("expiryNanoseconds", .unsigned(c.keyStore.expiry)),
                    ("requestTimeoutNanoseconds", .unsigned(c.keyStore.requestTimeout)),
                ])
            ),
            (
                "peers",
                .object([
                    ("reconnectMinimumNanoseconds", .unsigned(c.peers.reconnectMinimum)),
                    ("reconnectMaximumNanoseconds", .unsigned(c.peers.reconnectMaximum)),
                    ("keepAliveSeconds", .signed(c.peers.keepAliveSeconds)),
                    ("pendingFrames", .signed(c.peers.pendingFrames)),
                    ("pendingMessages", .signed(c.peers.pendingMessages)),
                ])
            ),
            (
                "topology",
                .object([
                    (
                        "nodes",
                        .array(c.topology.nodes.map { .object([("id", .unsigned(UInt64($0.id.rawValue))), ("name", .string($0.name))]) })
                    ),
                    (
                        "links",
                        .array(
                            c.topology.links.map {
                                .object([
                                    ("a", .unsigned(UInt64($0.a.rawValue))), ("b", .unsigned(UInt64($0.b.rawValue))),
                                    ("bitsPerSecond", .unsigned($0.bitsPerSecond)), ("delayNanoseconds", .unsigned($0.delay)),
                                ])
                            })
                    ),
                ])
            ),
            (
                "neighbours",
                .array(
                    c.neighbours.map {
                        .object([
                            ("node", .unsigned(UInt64($0.node.rawValue))), ("name", .string(names[$0.node] ?? "")),
                            ("address", address($0.address)), ("source", source($0.source)),
                        ])
                    })
            ),
            ("keyDelivery", keyDeliveryJSON(c)),
            ("saes", saesJSON(c)),
        ])
        var out = ""
        var document = value
        if !c.management.isDefault, case .object(var fields) = document {
            fields.append(("management", c.management.json))
            document = .object(fields)
        }
        document.write(to: &out, indent: "")
        return out + "\n"
    }

    private static func address(_ a: NetworkAddress) -> JSONValue {
        .object([("host", .string(a.host)), ("port", .unsigned(UInt64(a.port)))])
    }

    private static func source(_ s: KeySourceDescription) -> JSONValue {
        switch s {
        case .usb(let serial):
            .object([("kind", .string("usb")), ("serial", .string(serial))])
        case .trace(let path):
            .object([("kind", .string("trace")), ("path", .string(path))])
        case .simulated(let seed, let epoch, let bitsPerSecond, let blockPeriod, let jitter):
            .object([
                ("kind", .string("simulated")), ("seed", .unsigned(seed)), ("epochNanoseconds", .unsigned(epoch)),
                ("bitsPerSecond", .unsigned(bitsPerSecond)), ("blockPeriodNanoseconds", .unsigned(blockPeriod)),
                ("jitter", .real(jitter)),
            ])
        }
    }
}

