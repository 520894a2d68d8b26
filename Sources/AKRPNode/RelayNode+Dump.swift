import AKRPConfig
import AKRPEngine
import AKRPWire

extension RelayNode {
    /// The engine's view of one link (no key bytes).
    func diagnostics(_ n: NodeID, now: Nanoseconds) -> JSONValue {
        guard let d = engine.diagnostics(toward: n, now: now) else { return .object([]) }
        return .object([
            ("up", .bool(d.up)), ("lost", .bool(d.lost)), ("peer_incarnation", .unsigned(d.peerIncarnation)),
            ("resume_index", .unsigned(d.resumeIndex)), ("peer_window_end", .unsigned(d.peerWindowEnd)),
            ("authentication_sent", .unsigned(d.authenticationSent)),
            ("authentication_received", .unsigned(d.authenticationReceived)),
            ("block_period_ms", .real(d.blockPeriod / 1e6)), ("block_units", .real(d.blockUnits)),
            ("deliveries", .unsigned(UInt64(d.deliveries))), ("admission_limit", .unsigned(d.admissionLimit)),
            ("proposal_limit", .unsigned(d.proposalLimit)),
        ])
    }

    /// The box's state as one JSON document: identity, links (pool positions, marks, counters), peers,
    /// key sources, engine counters, key store and waiting requests. Never key bytes.
    func stateDump() -> [UInt8] { Array(stateDocument().compact.utf8) }

    /// The state dump as a JSON value.
    func stateDocument() -> JSONValue {
        let now = clock.now()
        let c = engine.counters
        var links: [JSONValue] = []
        for n in engine.neighbours {
            guard let pool = engine.pool(toward: n) else { continue }
            let peer = peers[n]
            let feed = feeds[n]
            let pc = peer?.counters ?? PeerCounters()
            links.append(
                .object([
                    ("neighbour", .unsigned(UInt64(n.rawValue))),
                    ("link", .string("\(min(n, configuration.node).rawValue)-\(max(n, configuration.node).rawValue)")),
                    ("up", .bool(engine.isLinkUp(toward: n))),
                    ("connected", .bool(peer?.isReady ?? false)),
                    ("dials", .bool(peer?.dials ?? false)),
                    ("address", .string(peer?.address.description ?? "")),
                    ("connected_for_ms", .unsigned(peer.map { $0.isReady ? (now &- $0.connectedSince) / 1_000_000 : 0 } ?? 0)),
                    ("peer_incarnation", .unsigned(peer?.greetedIncarnation ?? 0)),
                    (
                        "pool",
                        .object([
                            ("head", .unsigned(pool.head)), ("tail", .unsigned(pool.tail)), ("window_end", .unsigned(pool.windowEnd)),
                            ("referenced_end", .unsigned(pool.referencedEnd)), ("capacity", .unsigned(UInt64(pool.capacity))),
                            ("available_delivered", .unsigned(UInt64(pool.availableDelivered))),
                            ("held", .unsigned(UInt64(pool.heldUnits))), ("delivered_units", .unsigned(pool.deliveredUnits)),
                            ("consumed_units", .unsigned(pool.consumedUnits)), ("discarded_units", .unsigned(pool.discardedUnits)),
                        ])
                    ),
                    ("high_water_mark", .unsigned(state.mark(n))),
                    ("engine", diagnostics(n, now: now)),
                    (
                        "source",
                        .object([
                            ("kind", .string(feed?.description ?? "none")), ("state", .string(feed?.state ?? "none")),
                            ("units_delivered", .unsigned(feed?.unitsDelivered ?? 0)), ("errors", .unsigned(feed?.errors ?? 0)),
                            ("last_error", .string(feed?.lastError ?? "")),
                            (
                                "health",
                                .object((feed?.healthFields(now: now, unitSize: configuration.engine.unitSize) ?? []).map { ($0.0, .unsigned($0.1)) })
                            ),
                        ])
                    ),
                    (
                        "frames",
                        .object([
                            ("sent", .unsigned(pc.framesSent)), ("received", .unsigned(pc.framesReceived)),
                            ("bytes_sent", .unsigned(pc.bytesSent)), ("bytes_received", .unsigned(pc.bytesReceived)),
                            ("forged", .unsigned(pc.framesForged)), ("unverifiable", .unsigned(pc.framesUnverifiable)),
                            ("malformed", .unsigned(pc.framesMalformed)), ("dropped", .unsigned(pc.framesDropped)),
                            ("waiting_for_key_in", .unsigned(UInt64(peer?.incoming.count ?? 0))),
                            ("waiting_for_key_out", .unsigned(UInt64(peer?.outgoingCount ?? 0))),
                            ("messages_sent", .unsigned(pc.messagesSent)),
                            ("messages_received", .unsigned(pc.messagesReceived)),
                            ("messages_dropped", .unsigned(pc.messagesDropped)),
                            ("authentication_units_sent", .unsigned(pc.authenticationUnitsSent)),
                            ("authentication_units_received", .unsigned(pc.authenticationUnitsReceived)),
                            ("hash_key_renewals", .unsigned(pc.hashKeyRenewals)),
                        ])
                    ),
                    (
                        "connection",
                        .object([
                            ("connects", .unsigned(pc.connects)), ("disconnects", .unsigned(pc.disconnects)),
                            ("connect_failures", .unsigned(pc.connectFailures)), ("garbage_disconnects", .unsigned(pc.garbageDisconnects)),
                            ("greetings_refused", .unsigned(pc.greetingsRefused)), ("restarts_seen", .unsigned(pc.restartsSeen)),
                            ("position_mismatches", .unsigned(pc.positionMismatches)),
                            ("positions_received", .unsigned(pc.positionsReceived)),
                        ])
                    ),
                ]))
        }
        var rejections: [(String, JSONValue)] = []
        for r in InputRejection.allCases where r != .none && c.rejected(r) > 0 {
            rejections.append((r.description, .unsigned(c.rejected(r))))
        }
        var failures: [(String, JSONValue)] = []
        for f in FailReason.allCases where f != .none && c.failures[Int(f.rawValue)] > 0 {
            failures.append((f.description, .unsigned(c.failures[Int(f.rawValue)])))
        }
        let doc = JSONValue.object([
            ("node", .unsigned(UInt64(configuration.node.rawValue))),
            ("name", .string(configuration.name)),
            ("incarnation", .unsigned(engine.incarnation)),
            ("uptime_ms", .unsigned((now &- startedAt) / 1_000_000)),
            ("time_ns", .unsigned(now)),
            ("shutting_down", .bool(shuttingDown)),
            ("links", .array(links)),
            (
                "engine",
                .object([
                    ("requests_started", .unsigned(c.requestsStarted)), ("requests_accepted", .unsigned(c.requestsAccepted)),
                    ("requests_failed", .unsigned(c.requestsFailed)),
                    ("keys_delivered_as_source", .unsigned(c.keysDeliveredAsSource)),
                    ("keys_delivered_as_destination", .unsigned(c.keysDeliveredAsDestination)),
                    ("messages_sent", .unsigned(c.messagesSent)), ("messages_received", .unsigned(c.messagesReceived)),
                    ("branches_launched", .unsigned(c.branchesLaunched)), ("reroutes", .unsigned(c.reroutes)),
                    ("conflicts_resolved", .unsigned(c.conflictsResolved)), ("units_substituted", .unsigned(c.unitsSubstituted)),
                    ("units_yielded", .unsigned(c.unitsYielded)), ("units_consumed", .unsigned(c.unitsConsumed)),
                    ("delivered_notices_held", .unsigned(c.deliveredNoticesHeld)),
                    ("link_states_held", .unsigned(c.linkStatesHeld)),
                    ("link_states_superseded", .unsigned(c.linkStatesSuperseded)),
                    ("reservation_messages_held", .unsigned(c.reservationMessagesHeld)),
                    ("detour_branches", .unsigned(c.detourBranches)), ("detours_skipped", .unsigned(c.detoursSkipped)),
                    ("units_discarded", .unsigned(c.unitsDiscarded)), ("peer_restarts", .unsigned(c.peerRestarts)),
                    ("lease_expiries", .unsigned(c.leaseExpiries)),
                    ("authentication_units_sent", .unsigned(c.authenticationUnitsSent)),
                    ("authentication_units_received", .unsigned(c.authenticationUnitsReceived)),
                    ("consistency_faults", .unsigned(c.consistencyFaults)),
                    ("active_records", .unsigned(UInt64(engine.activeRecords))),
                    ("active_source_requests", .unsigned(UInt64(engine.activeSourceRequests))),
                    ("held_units", .unsigned(UInt64(engine.heldUnits))),
                    ("rejections", .object(rejections)),
                    ("failures", .object(failures)),
                ])
            ),
            (
                "box",
                .object([
                    ("keys_delivered_as_source", .unsigned(counters.keysDeliveredAsSource)),
                    ("keys_delivered_as_destination", .unsigned(counters.keysDeliveredAsDestination)),
                    ("key_bytes_delivered", .unsigned(counters.keyBytesDelivered)),
                    ("local_requests_accepted", .unsigned(counters.requestsAccepted)),
                    ("local_requests_completed", .unsigned(counters.requestsCompleted)),
                    ("local_requests_failed", .unsigned(counters.requestsFailed)),
                    ("local_requests_timed_out", .unsigned(counters.requestsTimedOut)),
                    ("local_requests_refused", .unsigned(counters.requestsRefused)),
                    ("local_requests_waiting", .unsigned(UInt64(pendingRequests.count))),
                    ("high_water_mark_writes", .unsigned(state.writes)),
                    ("outbox_dropped_messages", .unsigned(counters.outboxDroppedMessages)),
                    ("position_skips", .unsigned(counters.positionSkips)),
                    ("position_skipped_units", .unsigned(counters.positionSkippedUnits)),
                    ("stall_skips", .unsigned(counters.stallSkips)),
                    ("control_connections", .unsigned(counters.controlConnections)),
                    ("control_frames_bad", .unsigned(counters.controlFramesBad)),
                    ("audit_bytes_written", .unsigned(audit.bytesWritten)),
                    ("audit_write_errors", .unsigned(audit.writeErrors)),
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
                    ("held", .unsigned(UInt64(keys.count))), ("capacity", .unsigned(UInt64(keys.capacity))),
                    ("stored", .unsigned(keys.stored)), ("fetched", .unsigned(keys.fetched)),
                    ("expired", .unsigned(keys.expired)), ("refused", .unsigned(keys.refused)),
                    ("unknown_fetches", .unsigned(counters.keysUnknown)),
                ])
            ),
        ])
        return doc
    }
}
