/// Checks that a message naming a request branch comes from the right neighbour for the path and for
/// this node's record of the branch.
extension Engine {
    /// Validates a message that names a request branch against the path: the sender must be the
    /// neighbour on the expected side. Returns this node's position.
    func position(for m: Message, fromUpstream: Bool, _ outbox: Outbox) -> Int? {
        do throws(PathError) { try m.path.validate() } catch {
            reject(.badPath, outbox)
            return nil
        }
        guard let p = m.path.position(of: node) else {
            reject(.notOnPath, outbox)
            return nil
        }
        if fromUpstream {
            guard p >= 1, m.path[p - 1] == m.from else {
                reject(.notOnPath, outbox)
                return nil
            }
        } else {
            guard p < m.path.hops, m.path[p + 1] == m.from else {
                reject(.notOnPath, outbox)
                return nil
            }
        }
        return p
    }

    /// Looks up the record of a message and checks it matches this neighbour's side.
    func record(for m: Message, fromUpstream: Bool, _ outbox: Outbox) -> Int? {
        guard let slot = recordIndex.find(m.request, m.branch) else {
            reject(.unknownRequest, outbox)
            return nil
        }
        let r = records[slot]
        let p = Int(r.position)
        if fromUpstream {
            guard p >= 1, r.path[p - 1] == m.from, Int(m.hop) == p - 1 else {
                reject(.wrongHop, outbox)
                return nil
            }
        } else {
            guard p < r.path.hops, r.path[p + 1] == m.from, Int(m.hop) == p else {
                reject(.wrongHop, outbox)
                return nil
            }
        }
        return slot
    }
}
