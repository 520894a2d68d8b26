import AKRPConfig
import AKRPEngine

extension RelayNode {
    /// The state dump of the management interface: the control socket's dump, and per link the pool
    /// window with a histogram of unit states and the reservation table (units held per holder), the
    /// open local requests and the high-water marks. Never key bytes.
    func stateDump(detailed: Bool) -> [UInt8] {
        guard detailed, case .object(var fields) = stateDocument() else { return stateDump() }
        let now = clock.now()
        var pools: [JSONValue] = []
        for n in engine.neighbours {
            guard let pool = engine.pool(toward: n) else { continue }
            var histogram = [UInt64](repeating: 0, count: 5)
            var holders: [UInt32: (proposed: UInt64, bound: UInt64, first: UInt64, last: UInt64)] = [:]
            var i = pool.head
            while i < pool.windowEnd {
                let s = pool.state(i)
                histogram[Int(s.rawValue)] += 1
                if s == .proposed || s == .bound {
                    let h = pool.holder(i)
                    var e = holders[h] ?? (0, 0, i, i)
                    if s == .proposed { e.proposed += 1 } else { e.bound += 1 }
                    e.last = i
                    holders[h] = e
                }
                i += 1
            }
            let reservations: [JSONValue] = holders.keys.sorted().map { h in
                let e = holders[h]!
                return .object([
                    ("holder", .unsigned(UInt64(h))), ("proposed", .unsigned(e.proposed)), ("bound", .unsigned(e.bound)),
                    ("first_unit", .unsigned(e.first)), ("last_unit", .unsigned(e.last)),
                ])
            }
            pools.append(
                .object([
                    ("neighbour", .unsigned(UInt64(n.rawValue))),
                    ("window", .object([("head", .unsigned(pool.head)), ("tail", .unsigned(pool.tail)), ("end", .unsigned(pool.windowEnd))])),
                    (
                        "unit_states",
                        .object([
                            ("available", .unsigned(histogram[0])), ("proposed", .unsigned(histogram[1])),
                            ("bound", .unsigned(histogram[2])), ("consumed", .unsigned(histogram[3])),
                            ("discarded", .unsigned(histogram[4])),
                        ])
                    ),
                    ("reservations", .array(reservations)),
                    ("high_water_mark", .unsigned(state.mark(n))),
                ]))
        }
        let requests: [JSONValue] = pendingRequests.keys.sorted { "\($0)" < "\($1)" }.map { id in
            let p = pendingRequests[id]!
            return .object([
                ("request", .string("\(id)")), ("key_bytes", .unsigned(UInt64(p.keyLength))),
                ("deadline_in_ms", .signed(Int(Int64(bitPattern: p.deadline &- now) / 1_000_000))),
            ])
        }
        fields.append(("pools", .array(pools)))
        fields.append(("open_requests", .array(requests)))
        return Array(JSONValue.object(fields).compact.utf8)
    }
}
