import AKRPConfig
import AKRPDevice
import AKRPEngine
import AKRPManagement
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

extension RelayNode {
    /// Whether the box stopped to restart (SMP reset, or a trial configuration rolled back): `akrpd`
    /// then executes itself again.
    public var restartRequested: Bool { restartFlag }

    /// Tells the box how this start was decided (before ``start()``): the slots and the boot outcome.
    public func setBoot(_ boot: ConfigurationSlots.Boot, slots: ConfigurationSlots) {
        management.boot = boot
        management.slots = slots
    }

    /// Asks the service to stop gracefully and `akrpd` to start again.
    func requestRestart(reason: String) {
        guard !restartFlag else { return }
        logger.notice("restarting", metadata: ["reason": "\(reason)"])
        restartFlag = true
        restartSignal.continuation.yield()
    }

    func startManagement() async throws(NodeStartError) {
        registerGroups(management.dispatcher)
        if let kept = management.journal?.load() {
            if case .trial = management.boot {
                management.journal?.clear()  // the other slot is the fallback while a trial runs
            } else if management.upload.restore(length: kept.length, sha: kept.sha, bytes: Array(kept.bytes.prefix(kept.length - 1))) {
                logger.notice("an upload cut by the restart resumes", metadata: ["offset": "\(management.upload.offset)", "length": "\(kept.length)"])
            } else {
                management.journal?.clear()
            }
        }
        try await management.start()
        if case .trial(let slot) = management.boot {
            logger.notice(
                "configuration on trial: confirmed when every neighbour is connected",
                metadata: ["slot": "\(slot.rawValue)", "timeout_s": "\(configuration.management.confirmTimeout / 1_000_000_000)"])
            let started = clock.now()
            management.confirmCheck = loop.scheduleRepeatedTask(initialDelay: .milliseconds(200), delay: .milliseconds(200)) {
                [self] task in
                checkTrial(started: started, task: task)
            }
        }
    }

    /// A trial configuration is confirmed once every neighbour is connected; past the confirm timeout
    /// the box restarts, and the start reverts to the active slot.
    func checkTrial(started: Nanoseconds, task: RepeatedTask) {
        guard case .trial(let slot) = management.boot else {
            task.cancel()
            return
        }
        if !peers.isEmpty && peers.values.allSatisfy({ $0.isReady }) {
            task.cancel()
            confirmTrial(slot, how: "every neighbour connected")
            return
        }
        if clock.now() &- started > configuration.management.confirmTimeout {
            task.cancel()
            logger.error(
                "configuration on trial not confirmed in time: rolling back",
                metadata: ["slot": "\(slot.rawValue)", "connected": "\(peers.values.filter { $0.isReady }.count)/\(peers.count)"])
            requestRestart(reason: "rollback of an unconfirmed configuration")
        }
    }

    @discardableResult
    func confirmTrial(_ slot: ConfigurationSlots.Slot, how: String) -> Bool {
        guard let slots = management.slots else { return false }
        var r = slots.record
        r.active = slot
        r.trial = nil
        do throws(StateStoreError) { try slots.write(r) } catch {
            logger.error("cannot confirm the configuration", metadata: ["error": "\(error)"])
            return false
        }
        management.boot = .active(slot)
        logger.notice("configuration confirmed", metadata: ["slot": "\(slot.rawValue)", "by": "\(how)"])
        return true
    }

    // MARK: - groups

    func registerGroups(_ d: SMPDispatcher) {
        // OS group
        d.register(group: SMPGroup.os, command: 0, write: { r in
            guard let text = r["d"]?.textValue else { return .error(.invalidValue) }
            return .answer([("r", .text(text))])
        })
        d.register(group: SMPGroup.os, command: 5, write: { [self] r in
            if let force = r["force"], force.unsignedValue == nil, force.boolValue == nil { return .error(.invalidValue) }
            // Answer first; stop a moment later so that the answer leaves.
            loop.scheduleTask(in: .milliseconds(100)) { [self] in requestRestart(reason: "SMP reset") }
            return .answer([])
        })
        d.register(group: SMPGroup.os, command: 6, read: { _ in
            .answer([
                ("buf_size", .unsigned(UInt64(ManagementServer.maximumPacketSize))),
                ("buf_count", .unsigned(UInt64(ManagementServer.bufferCount))),
            ])
        })
        d.register(group: SMPGroup.os, command: 7, read: { [self] r in
            if let f = r["format"], f.textValue == nil { return .error(.invalidValue) }
            return .answer([("output", .text(osInfo(format: r["format"]?.textValue ?? "s")))])
        })
        // Statistics group
        d.register(group: SMPGroup.statistics, command: 0, read: { [self] r in
            guard let name = r["name"]?.textValue else { return .error(.invalidValue) }
            guard let fields = statisticsGroup(name) else { return .groupError(2) }  // STAT_MGMT_ERR_INVALID_GROUP
            return .answer([
                ("name", .text(name)),
                ("fields", .object(fields.map { ($0.0, .unsigned($0.1)) })),
            ])
        })
        d.register(group: SMPGroup.statistics, command: 1, read: { [self] _ in
            .answer([("stat_list", .array(statisticsGroupNames.map { .text($0) }))])
        })
        // Settings group
        d.register(group: SMPGroup.settings, command: 0, read: { [self] r in settingRead(r) }, write: { [self] r in settingWrite(r) })
        d.register(group: SMPGroup.settings, command: 2, write: { [self] _ in settingsCommit() })
        // AKRP group: state dump in chunks
        d.register(group: SMPGroup.akrp, command: 0, read: { [self] r in dumpChunk(r) })
        registerKeyCommands(d)
        registerImageGroup(d)
    }

    func osInfo(format: String) -> String {
        var u = utsname()
        uname(&u)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        var parts: [String] = []
        for c in format {
            switch c {
            case "s": parts.append(field(u.sysname))
            case "n": parts.append(field(u.nodename))
            case "r": parts.append(field(u.release))
            case "v": parts.append(field(u.version))
            case "m": parts.append(field(u.machine))
            case "o": parts.append("akrpd node \(configuration.node.rawValue) '\(configuration.name)' incarnation \(engine.incarnation)")
            case "a":
                parts = [field(u.sysname), field(u.nodename), field(u.release), field(u.version), field(u.machine)]
                parts.append("akrpd node \(configuration.node.rawValue) '\(configuration.name)' incarnation \(engine.incarnation)")
            default: break
            }
        }
        return parts.joined(separator: " ")
    }

    // MARK: - statistics

    var statisticsGroupNames: [String] {
        var names = ["box", "engine", "smp"]
        for n in engine.neighbours {
            names += ["link-\(n.rawValue)", "peer-\(n.rawValue)", "device-\(n.rawValue)"]
        }
        return names + extraStatistics.keys.sorted()
    }

    /// The counters of one named statistics group, nil when there is no such group.
    func statisticsGroup(_ name: String) -> [(String, UInt64)]? {
        if let extra = extraStatistics[name] { return extra() }
        let now = clock.now()
        switch name {
        case "box":
            return [
                ("keys_delivered", counters.keysDeliveredAsSource + counters.keysDeliveredAsDestination),
                ("keys_delivered_as_source", counters.keysDeliveredAsSource),
                ("keys_delivered_as_destination", counters.keysDeliveredAsDestination),
                ("key_bytes_delivered", counters.keyBytesDelivered),
                ("local_requests_accepted", counters.requestsAccepted), ("local_requests_completed", counters.requestsCompleted),
                ("local_requests_failed", counters.requestsFailed), ("local_requests_timed_out", counters.requestsTimedOut),
                ("local_requests_refused", counters.requestsRefused), ("local_requests_waiting", UInt64(pendingRequests.count)),
                ("keys_fetched", counters.keysFetched), ("keys_held", UInt64(keys.count)),
                ("high_water_mark_writes", state.writes), ("uptime_s", (now &- startedAt) / 1_000_000_000),
                ("incarnation", engine.incarnation),
            ]
        case "engine":
            let c = engine.counters
            var f: [(String, UInt64)] = [
                ("requests_started", c.requestsStarted), ("requests_accepted", c.requestsAccepted),
                ("requests_failed", c.requestsFailed), ("keys_delivered_as_source", c.keysDeliveredAsSource),
                ("keys_delivered_as_destination", c.keysDeliveredAsDestination), ("conflicts_resolved", c.conflictsResolved),
                ("units_substituted", c.unitsSubstituted), ("units_yielded", c.unitsYielded), ("units_consumed", c.unitsConsumed),
                ("units_discarded", c.unitsDiscarded), ("reroutes", c.reroutes), ("branches_launched", c.branchesLaunched),
                ("peer_restarts", c.peerRestarts), ("lease_expiries", c.leaseExpiries), ("consistency_faults", c.consistencyFaults),
                ("messages_sent", c.messagesSent), ("messages_received", c.messagesReceived),
                ("active_records", UInt64(engine.activeRecords)), ("held_units", UInt64(engine.heldUnits)),
            ]
            for r in InputRejection.allCases where r != .none { f.append(("refused_\(r.description)", c.rejected(r))) }
            for x in FailReason.allCases where x != .none { f.append(("failed_\(x.description)", c.failures[Int(x.rawValue)])) }
            for (label, h) in [("relay_step", relayStepLatency), ("local_request", localRequestLatency)] {
                f.append(("\(label)_count", h.total))
                for (q, name) in [(0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (0.999, "p999")] {
                    f.append(("\(label)_\(name)_us", h.quantile(q) / 1000))
                }
                f.append(("\(label)_max_us", h.maximum / 1000))
                // Cumulative `le` buckets at fixed bounds (LatencyHistogram.bucketBounds), Prometheus style.
                for (suffix, count) in h.cumulativeBuckets { f.append(("\(label)_\(suffix)", count)) }
            }
            return f
        case "smp":
            let d = management.dispatcher.counters
            let m = management.counters
            return [
                ("requests", d.requests), ("answered", d.answered), ("errors", d.errors), ("dropped", d.dropped),
                ("malformed_bodies", d.malformedBodies), ("unknown_commands", d.unknownCommands), ("oversized", m.oversized),
                ("serial_drops", m.serialDrops), ("transport_errors", m.transportErrors), ("uploads", m.uploads),
                ("uploads_refused", m.uploadsRefused),
            ]
        default:
            break
        }
        let parts = name.split(separator: "-", maxSplits: 1)
        guard parts.count == 2, let id = UInt32(parts[1]), engine.neighbours.contains(NodeID(id)) else { return nil }
        let n = NodeID(id)
        let pc = peers[n]?.counters ?? PeerCounters()
        switch parts[0] {
        case "link":
            guard let pool = engine.pool(toward: n) else { return nil }
            return [
                ("delivered_units", pool.deliveredUnits),
                ("consumed_units", counters.unitsConsumedForKeys[LinkID(configuration.node, n)] ?? 0),
                ("consumed_units_with_authentication", pool.consumedUnits),
                ("discarded_units", pool.discardedUnits), ("available_units", UInt64(pool.availableDelivered)),
                ("held_units", UInt64(pool.heldUnits)), ("capacity_units", UInt64(pool.capacity)),
                ("pool_fill_permille", UInt64(pool.availableDelivered) * 1000 / UInt64(max(1, pool.capacity))),
                ("authentication_units_sent", pc.authenticationUnitsSent),
                ("authentication_units_received", pc.authenticationUnitsReceived),
                ("frames_forged", pc.framesForged), ("frames_unverifiable", pc.framesUnverifiable),
                ("frames_malformed", pc.framesMalformed), ("frames_dropped", pc.framesDropped),
                ("high_water_mark", state.mark(n)), ("up", engine.isLinkUp(toward: n) ? 1 : 0),
            ]
        case "peer":
            return [
                ("connected", (peers[n]?.isReady ?? false) ? 1 : 0), ("connects", pc.connects),
                ("reconnects", pc.connects > 0 ? pc.connects - 1 : 0), ("disconnects", pc.disconnects),
                ("connect_failures", pc.connectFailures), ("garbage_disconnects", pc.garbageDisconnects),
                ("greetings_refused", pc.greetingsRefused), ("restarts_seen", pc.restartsSeen),
                ("frames_sent", pc.framesSent), ("frames_received", pc.framesReceived),
                ("bad_frames", pc.framesForged + pc.framesUnverifiable + pc.framesMalformed),
                ("bytes_sent", pc.bytesSent), ("bytes_received", pc.bytesReceived),
            ]
        case "device":
            let feed = feeds[n]
            var rate: UInt64 = 0
            if let nb = configuration.neighbours.first(where: { $0.node == n }), case .simulated(_, _, let bps, _, _) = nb.source {
                rate = bps
            }
            var fields: [(String, UInt64)] = [
                ("units_delivered", feed?.unitsDelivered ?? 0), ("errors", feed?.errors ?? 0),
                ("configured_rate_bps", rate), ("delivering", feed?.state == "delivering" ? 1 : 0),
                ("exhausted", (feed?.exhausted ?? false) ? 1 : 0),
            ]
            if let usb = feed?.source as? USBKeySource {
                let c = usb.counters
                fields += [
                    ("attached", usb.isAttached ? 1 : 0), ("streaming", usb.isStreaming ? 1 : 0),
                    ("frames_accepted", c.framesAccepted), ("units_lost", c.unitsDiscarded), ("bad_crc", c.badCRC),
                    ("wrong_link", c.wrongLink), ("non_contiguous", c.nonContiguous), ("malformed", c.malformed),
                    ("stalls", c.stalls), ("unplugs", c.unplugs), ("reattachments", c.reattachments),
                    ("failed_calls", c.failedCalls),
                ]
            }
            // Device health: measured key rate; for USB QBER, alarms, state, event counts (LinkFeed+Health.swift).
            fields += feed?.healthFields(now: now, unitSize: configuration.engine.unitSize) ?? []
            return fields
        default:
            return nil
        }
    }

    // MARK: - settings

    /// The tunable admission settings: name, current value, allowed range (milliseconds or a plain count).
    var tunableSettings: [(String, UInt64, ClosedRange<UInt64>)] {
        let e = engine.configuration
        return [
            ("akrp/latency-budget-ms", e.latencyBudget / 1_000_000, 0...86_400_000),
            ("akrp/yield-margin-ms", e.yieldMargin / 1_000_000, 0...86_400_000),
        ]
    }

    func settingRead(_ r: SMPRequest) -> SMPOutcome {
        guard let name = r["name"]?.textValue else { return .error(.invalidValue) }
        guard let s = tunableSettings.first(where: { $0.0 == name }) else { return .groupError(3) }  // SETTINGS_KEY_NOT_FOUND
        let value = management.stagedSettings[name] ?? s.1
        return .answer([("val", .bytes(Array("\(value)".utf8)))])
    }

    func settingWrite(_ r: SMPRequest) -> SMPOutcome {
        guard let name = r["name"]?.textValue, let raw = r["val"]?.bytesValue else { return .error(.invalidValue) }
        guard let s = tunableSettings.first(where: { $0.0 == name }) else { return .groupError(3) }
        guard raw.count <= 20, let text = String(validating: raw, as: UTF8.self), let v = UInt64(text), s.2.contains(v) else {
            return .groupError(6)  // SETTINGS_VALUE_INVALID-like: a decimal integer in range
        }
        management.stagedSettings[name] = v
        return .answer([])
    }

    func settingsCommit() -> SMPOutcome {
        let staged = management.stagedSettings
        management.stagedSettings = [:]
        for (name, value) in staged {
            switch name {
            case "akrp/latency-budget-ms": engine.tuneAdmission(latencyBudget: value * 1_000_000)
            case "akrp/yield-margin-ms": engine.tuneAdmission(yieldMargin: value * 1_000_000)
            default: break
            }
            logger.notice("setting committed", metadata: ["name": "\(name)", "value": "\(value)"])
        }
        return .answer([])
    }

    // MARK: - AKRP group: state dump

    /// Command 0 (read) `{off}` → `{off, len, data}`: the state dump (JSON text) in chunks; offset 0 takes a
    /// fresh dump.
    func dumpChunk(_ r: SMPRequest) -> SMPOutcome {
        let off = r["off"]?.unsignedValue ?? 0
        if off == 0 || management.dump.isEmpty { management.dump = stateDump(detailed: true) }
        let total = management.dump.count
        guard off <= UInt64(total) else { return .error(.invalidValue) }
        let start = Int(off)
        let n = min(ManagementServer.maximumPacketSize - 64, total - start)
        return .answer([
            ("off", .unsigned(off)), ("len", .unsigned(UInt64(total))),
            ("data", .bytes(Array(management.dump[start..<(start + n)]))),
        ])
    }
}
