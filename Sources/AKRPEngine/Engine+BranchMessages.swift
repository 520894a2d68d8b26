/// Checks that a message naming a request branch comes from the right neighbour for the path and for
/// this node's record of the branch.
extension Engine {
    /// Validates a message that names a request branch against the path: the sender must be the
    /// neighbour on the expected side. Returns this node's position.
    func position(for message: Message, fromUpstream: Bool, _ outbox: Outbox) -> Int? {
        do throws(PathError) { try message.path.validate() } catch {
            reject(.badPath, outbox)
            return nil
        }
        guard let p = message.path.position(of: node) else {
            reject(.notOnPath, outbox)
            return nil
        }
        if fromUpstream {
            guard p >= 1, message.path[p - 1] == message.from else {
                reject(.notOnPath, outbox)
                return nil
            }
        } else {
            guard p < message.path.hops, message.path[p + 1] == message.from else {
                reject(.notOnPath, outbox)
                return nil
            }
        }
        return p
    }

    /// Looks up the record of a message and checks it matches this neighbour's side.
    func record(for message: Message, fromUpstream: Bool, _ outbox: Outbox) -> Int? {
        guard let slot = recordIndex.find(message.request, message.branch) else {
            reject(.unknownRequest, outbox)
            return nil
        }
        // Fields read in place: a copy of the whole record would cost more than the checks.
        let p = Int(records[slot].position)
        if fromUpstream {
            guard p >= 1, records[slot].path[p - 1] == message.from, Int(message.hop) == p - 1 else {
                reject(.wrongHop, outbox)
                return nil
            }
        } else {
            guard p < records[slot].path.hops, records[slot].path[p + 1] == message.from, Int(message.hop) == p else {
                reject(.wrongHop, outbox)
                return nil
            }
        }
        return slot
    }
}
