import AKRPEngine
import AKRPWire

/// A JSON value for the state dump (no Foundation on the loop's hot path, and an order that reads well).
indirect enum DumpValue {
    case number(UInt64)
    case signed(Int64)
    case decimal(Double)
    case text(String)
    case bool(Bool)
    case array([DumpValue])
    case object([(String, DumpValue)])

    func render(into out: inout String) {
        switch self {
        case .number(let v): out += String(v)
        case .signed(let v): out += String(v)
        case .decimal(let v): out += v.isFinite ? String(v) : "null"
        case .bool(let v): out += v ? "true" : "false"
        case .text(let s):
            out += "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if scalar.value < 0x20 {
                        out += "\\u00" + String(scalar.value, radix: 16).leftPadded(to: 2)
                    } else {
                        out.unicodeScalars.append(scalar)
                    }
                }
            }
            out += "\""
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.render(into: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (i, (key, value)) in fields.enumerated() {
                if i > 0 { out += "," }
                DumpValue.text(key).render(into: &out)
                out += ":"
                value.render(into: &out)
            }
            out += "}"
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension RelayNode {
    /// The engine's view of one link (no key bytes).
    func diagnostics(_ n: NodeID, now: Nanoseconds) -> DumpValue {
        guard let d = engine.diagnostics(toward: n, now: now) else { return .object([]) }
        return .object([
            ("up", .bool(d.up)), ("lost", .bool(d.lost)), ("peer_incarnation", .number(d.peerIncarnation)),
            ("resume_index", .number(d.resumeIndex)), ("peer_window_end", .number(d.peerWindowEnd)),
            ("authentication_sent", .number(d.authenticationSent)),
            ("authentication_received", .number(d.authenticationReceived)),
            ("block_period_ms", .decimal(d.blockPeriod / 1e6)), ("block_units", .decimal(d.blockUnits)),
            ("deliveries", .number(UInt64(d.deliveries))), ("admission_limit", .number(d.admissionLimit)),
            ("proposal_limit", .number(d.proposalLimit)),
        ])
    }

    /// The box's state as one JSON document: identity, links (pool positions, marks, counters), peers,
    /// key sources, engine counters, key store and waiting requests. Never key bytes.
    func stateDump() -> [UInt8] {
        let now = clock.now()
        let c = engine.counters
        var links: [DumpValue] = []
        for n in engine.neighbours {
            guard let pool = engine.pool(toward: n) else { continue }
            let peer = peers[n]
            let feed = feeds[n]
            let pc = peer?.counters ?? PeerCounters()
            links.append(
                .object([
                    ("neighbour", .number(UInt64(n.rawValue))),
                    ("link", .text("\(min(n, configuration.node).rawValue)-\(max(n, configuration.node).rawValue)")),
                    ("up", .bool(engine.isLinkUp(toward: n))),
                    ("connected", .bool(peer?.isReady ?? false)),
                    ("dials", .bool(peer?.dials ?? false)),
                    ("address", .text(peer?.address.description ?? "")),
                    ("connected_for_ms", .number(peer.map { $0.isReady ? (now &- $0.connectedSince) / 1_000_000 : 0 } ?? 0)),
                    ("peer_incarnation", .number(peer?.greetedIncarnation ?? 0)),
                    (
                        "pool",
                        .object([
                            ("head", .number(pool.head)), ("tail", .number(pool.tail)), ("window_end", .number(pool.windowEnd)),
                            ("referenced_end", .number(pool.referencedEnd)), ("capacity", .number(UInt64(pool.capacity))),
                            ("available_delivered", .number(UInt64(pool.availableDelivered))),
                            ("held", .number(UInt64(pool.heldUnits))), ("delivered_units", .number(pool.deliveredUnits)),
                            ("consumed_units", .number(pool.consumedUnits)), ("discarded_units", .number(pool.discardedUnits)),
                        ])
                    ),
                    ("high_water_mark", .number(state.mark(n))),
                    ("engine", diagnostics(n, now: now)),
                    (
                        "source",
                        .object([
                            ("kind", .text(feed?.description ?? "none")), ("state", .text(feed?.state ?? "none")),
                            ("units_delivered", .number(feed?.unitsDelivered ?? 0)), ("errors", .number(feed?.errors ?? 0)),
                            ("last_error", .text(feed?.lastError ?? "")),
                        ])
                    ),
                    (
                        "frames",
                        .object([
                            ("sent", .number(pc.framesSent)), ("received", .number(pc.framesReceived)),
                            ("bytes_sent", .number(pc.bytesSent)), ("bytes_received", .number(pc.bytesReceived)),
                            ("forged", .number(pc.framesForged)), ("unverifiable", .number(pc.framesUnverifiable)),
                            ("malformed", .number(pc.framesMalformed)), ("dropped", .number(pc.framesDropped)),
                            ("waiting_for_key_in", .number(UInt64(peer?.incoming.count ?? 0))),
                            ("waiting_for_key_out", .number(UInt64(peer?.outgoingCount ?? 0))),
                            ("messages_dropped", .number(pc.messagesDropped)),
                            ("authentication_units_sent", .number(pc.authenticationUnitsSent)),
                            ("authentication_units_received", .number(pc.authenticationUnitsReceived)),
                        ])
                    ),
                    (
                        "connection",
                        .object([
                            ("connects", .number(pc.connects)), ("disconnects", .number(pc.disconnects)),
                            ("connect_failures", .number(pc.connectFailures)), ("garbage_disconnects", .number(pc.garbageDisconnects)),
                            ("greetings_refused", .number(pc.greetingsRefused)), ("restarts_seen", .number(pc.restartsSeen)),
                            ("position_mismatches", .number(pc.positionMismatches)),
                            ("positions_received", .number(pc.positionsReceived)),
                        ])
                    ),
                ]))
        }
        var rejections: [(String, DumpValue)] = []
        for r in InputRejection.allCases where r != .none && c.rejected(r) > 0 {
            rejections.append((r.description, .number(c.rejected(r))))
        }
        var failures: [(String, DumpValue)] = []
        for f in FailReason.allCases where f != .none && c.failures[Int(f.rawValue)] > 0 {
            failures.append((f.description, .number(c.failures[Int(f.rawValue)])))
        }
        let doc = DumpValue.object([
            ("node", .number(UInt64(configuration.node.rawValue))),
            ("name", .text(configuration.name)),
            ("incarnation", .number(engine.incarnation)),
            ("uptime_ms", .number((now &- startedAt) / 1_000_000)),
            ("time_ns", .number(now)),
            ("shutting_down", .bool(shuttingDown)),
            ("links", .array(links)),
            (
                "engine",
                .object([
                    ("requests_started", .number(c.requestsStarted)), ("requests_accepted", .number(c.requestsAccepted)),
                    ("requests_failed", .number(c.requestsFailed)),
                    ("keys_delivered_as_source", .number(c.keysDeliveredAsSource)),
                    ("keys_delivered_as_destination", .number(c.keysDeliveredAsDestination)),
                    ("messages_sent", .number(c.messagesSent)), ("messages_received", .number(c.messagesReceived)),
                    ("branches_launched", .number(c.branchesLaunched)), ("reroutes", .number(c.reroutes)),
                    ("conflicts_resolved", .number(c.conflictsResolved)), ("units_substituted", .number(c.unitsSubstituted)),
                    ("units_yielded", .number(c.unitsYielded)), ("units_consumed", .number(c.unitsConsumed)),
                    ("units_discarded", .number(c.unitsDiscarded)), ("peer_restarts", .number(c.peerRestarts)),
                    ("lease_expiries", .number(c.leaseExpiries)),
                    ("authentication_units_sent", .number(c.authenticationUnitsSent)),
                    ("authentication_units_received", .number(c.authenticationUnitsReceived)),
                    ("consistency_faults", .number(c.consistencyFaults)),
                    ("active_records", .number(UInt64(engine.activeRecords))),
                    ("active_source_requests", .number(UInt64(engine.activeSourceRequests))),
                    ("held_units", .number(UInt64(engine.heldUnits))),
                    ("rejections", .object(rejections)),
                    ("failures", .object(failures)),
                ])
            ),
            (
                "box",
                .object([
                    ("keys_delivered_as_source", .number(counters.keysDeliveredAsSource)),
                    ("keys_delivered_as_destination", .number(counters.keysDeliveredAsDestination)),
                    ("key_bytes_delivered", .number(counters.keyBytesDelivered)),
                    ("local_requests_accepted", .number(counters.requestsAccepted)),
                    ("local_requests_completed", .number(counters.requestsCompleted)),
                    ("local_requests_failed", .number(counters.requestsFailed)),
                    ("local_requests_timed_out", .number(counters.requestsTimedOut)),
                    ("local_requests_refused", .number(counters.requestsRefused)),
                    ("local_requests_waiting", .number(UInt64(pendingRequests.count))),
                    ("high_water_mark_writes", .number(state.writes)),
                    ("outbox_dropped_messages", .number(counters.outboxDroppedMessages)),
                    ("position_skips", .number(counters.positionSkips)),
                    ("position_skipped_units", .number(counters.positionSkippedUnits)),
                    ("stall_skips", .number(counters.stallSkips)),
                    ("control_connections", .number(counters.controlConnections)),
                    ("control_frames_bad", .number(counters.controlFramesBad)),
                    ("audit_bytes_written", .number(audit.bytesWritten)),
                    ("audit_write_errors", .number(audit.writeErrors)),
                ])
            ),
            (
                "latency",
                .object([
                    ("relay_step", relayStepLatency.summary),
                    ("local_request", localRequestLatency.summary),
                ])
            ),
            (
                "key_store",
                .object([
                    ("held", .number(UInt64(keys.count))), ("capacity", .number(UInt64(keys.capacity))),
                    ("stored", .number(keys.stored)), ("fetched", .number(keys.fetched)),
                    ("expired", .number(keys.expired)), ("refused", .number(keys.refused)),
                    ("unknown_fetches", .number(counters.keysUnknown)),
                ])
            ),
        ])
        var out = ""
        doc.render(into: &out)
        return Array(out.utf8)
    }
}
