/// The record table: slots, holder tokens, and the list of committed records waiting for key.
extension Engine {
    @inline(__always)
    func token(_ slot: Int) -> UInt32 { UInt32(slot + 1) }

    func allocateRecord(_ message: Message, position: Int) -> Int? {
        guard let slot = recordSlots.take() else { return nil }
        guard recordIndex.insert(message.request, message.branch, slot: slot) else {
            recordSlots.give(slot)
            return nil
        }
        if slot + 1 > recordHighWater { recordHighWater = slot + 1 }
        // Filled in place from the empty record (no second copy of the whole record).
        records[slot] = Record.empty
        records[slot].request = message.request
        records[slot].branch = message.branch
        records[slot].position = UInt8(position)
        records[slot].path = message.path
        records[slot].size = message.size
        records[slot].deadline = message.time
        return slot
    }

    func freeRecord(_ slot: Int) {
        let a = Int(records[slot].accumulator)
        if a >= 0 {
            wipe(UnsafeMutableRawBufferPointer(rebasing: accumulators[(a * keyBytes)..<((a + 1) * keyBytes)]))
            accumulatorSlots.give(a)
        }
        if records[slot].pendingIndex >= 0 { removePending(slot) }
        recordIndex.remove(records[slot].request, records[slot].branch)
        records[slot] = Record.empty
        recordSlots.give(slot)
    }

    func addPending(_ slot: Int) {
        guard records[slot].pendingIndex < 0 else { return }
        pending[pendingCount] = Int32(slot)
        records[slot].pendingIndex = Int16(pendingCount)
        pendingCount += 1
    }

    func removePending(_ slot: Int) {
        let i = Int(records[slot].pendingIndex)
        guard i >= 0 else { return }
        pendingCount -= 1
        let moved = Int(pending[pendingCount])
        pending[i] = Int32(moved)
        records[moved].pendingIndex = Int16(i)
        records[slot].pendingIndex = -1
    }
}
