import AKRPEngine

extension ConfigurationText {
    /// The normalized text of `configuration`: every setting written out, defaults included, sections in
    /// the documented order, links and neighbour sections by node ID with the names in comments, LF line
    /// endings. For a valid configuration `parse(render(c)) == c`.
    public static func render(_ configuration: NodeConfiguration) -> String {
        let c = configuration
        var out = "# akrpd configuration of node \(c.node.rawValue) '\(c.name)' (docs/CONFIG.md)\n"
        func line(_ field: String, _ value: String) { out += "\(field) = \(value)\n" }
        func ms(_ field: String, _ ns: Nanoseconds) { line(field, TextValue.milliseconds(ns)) }
        func yesNo(_ field: String, _ value: Bool) { line(field, TextValue.formatBoolean(value)) }

        line("node", "\(c.node.rawValue)")
        line("listen", c.listen.description)
        line("control-socket", TextValue.formatString(c.controlSocket))
        line("state-dir", TextValue.formatString(c.stateDirectory))
        line("log-level", TextValue.formatString(c.logLevel))
        line("high-water-step", "\(c.highWaterStep)")

        let e = c.engine
        out += "\n[engine]\n"
        line("unit-size", "\(e.unitSize)")
        line("pool-capacity", "\(e.poolCapacity)")
        line("ownership-block", "\(e.ownershipBlock)")
        line("max-request-units", "\(e.maxRequestUnits)")
        line("records", "\(e.recordCapacity)")
        line("sources", "\(e.sourceCapacity)")
        line("accumulators", "\(e.accumulatorCapacity)")
        line("outbox", "\(e.outboxCapacity)")
        line("events", "\(e.eventCapacity)")
        line("max-neighbours", "\(e.maxNeighbours)")
        line("paths", "\(e.paths)")
        yesNo("adaptive-multipath", e.adaptiveMultipath)
        ms("latency-budget-ms", e.latencyBudget)
        ms("lease-ms", e.lease)
        ms("completion-grace-ms", e.completionGrace)
        ms("branch-window-ms", e.branchWindow)
        line("reroutes", "\(e.reroutes)")
        ms("retry-interval-ms", e.retryInterval)
        line("abort-attempts", "\(e.abortAttempts)")
        ms("link-state-interval-ms", e.linkStateInterval)
        ms("link-state-check-ms", e.linkStateCheckInterval)
        line("link-state-radius", "\(e.linkStateRadius)")
        yesNo("nominal-rate-before-pattern", e.nominalRateBeforePattern)
        line("detour-budget-ms", e.detourBudget.map(TextValue.milliseconds) ?? "off")
        line("detour-reserve", TextValue.formatReal(e.detourReserve))
        yesNo("key-aware-routing", e.keyAwareRouting)
        yesNo("borrowing", e.borrowing)
        yesNo("yield", e.yieldAtCommit)
        ms("yield-margin-ms", e.yieldMargin)
        line("eta-deviations", TextValue.formatReal(e.etaDeviations))
        ms("delivered-hold-ms", e.deliveredHold)
        ms("link-state-hold-ms", e.linkStateHold)
        ms("frame-hold-ms", e.frameHold)
        line("authentication-reserve", "\(e.authenticationReserve)")

        out += "\n[keys]\n"
        line("capacity", "\(c.keyStore.capacity)")
        line("expiry-s", TextValue.seconds(c.keyStore.expiry))
        ms("request-timeout-ms", c.keyStore.requestTimeout)

        out += "\n[peers]\n"
        ms("reconnect-min-ms", c.peers.reconnectMinimum)
        ms("reconnect-max-ms", c.peers.reconnectMaximum)
        line("keepalive-s", "\(c.peers.keepAliveSeconds)")
        line("pending-frames", "\(c.peers.pendingFrames)")
        line("pending-messages", "\(c.peers.pendingMessages)")
        out += c.management.rendered

        out += "\n[topology]\n"
        var names: [NodeID: String] = [:]
        for n in c.topology.nodes {
            out += "node \(n.id.rawValue) \(n.name)\n"
            names[n.id] = n.name
        }
        for l in c.topology.links {
            out += "link \(l.a.rawValue) \(l.b.rawValue) rate=\(l.bitsPerSecond) delay-ms=\(TextValue.milliseconds(l.delay))"
            out += "    # \(names[l.a] ?? "?") - \(names[l.b] ?? "?")\n"
        }

        for n in c.neighbours {
            out += "\n[neighbour \(n.node.rawValue)]    # \(names[n.node] ?? "?")\n"
            line("address", n.address.description)
            switch n.source {
            case .usb(let serial):
                line("source", "usb")
                line("serial", TextValue.formatString(serial))
            case .trace(let path):
                line("source", "trace")
                line("path", TextValue.formatString(path))
            case .simulated(let seed, let epoch, let bitsPerSecond, let blockPeriod, let jitter):
                line("source", "simulated")
                line("seed", "\(seed)")
                line("epoch", TextValue.seconds(epoch))
                line("rate", "\(bitsPerSecond)")
                ms("block-ms", blockPeriod)
                line("jitter", TextValue.formatReal(jitter))
            }
        }
        out += renderKeyDelivery(c)
        return out
    }
}
