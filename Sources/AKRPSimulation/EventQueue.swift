/// A deterministic discrete-event queue: earliest time first, ties in insertion order.
public struct EventQueue<Payload> {
    private var heap: [(time: UInt64, seq: UInt64, payload: Payload)] = []
    private var counter: UInt64 = 0

    /// An empty queue.
    public init() {}

    /// No event is queued.
    public var isEmpty: Bool { heap.isEmpty }
    /// Events queued.
    public var count: Int { heap.count }
    /// Time of the earliest event.
    public var nextTime: UInt64? { heap.first?.time }

    /// Queues `payload` at `time`; after the events already queued at the same time.
    public mutating func push(_ time: UInt64, _ payload: Payload) {
        counter += 1
        heap.append((time, counter, payload))
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if less(heap[p], heap[i]) { break }
            heap.swapAt(p, i)
            i = p
        }
    }

    /// Removes and returns the earliest event (the first queued among equal times), or nil when empty.
    public mutating func pop() -> (time: UInt64, payload: Payload)? {
        guard !heap.isEmpty else { return nil }
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && less(heap[l], heap[m]) { m = l }
                if r < heap.count && less(heap[r], heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        return (top.time, top.payload)
    }

    @inline(__always)
    private func less(_ a: (time: UInt64, seq: UInt64, payload: Payload), _ b: (time: UInt64, seq: UInt64, payload: Payload)) -> Bool {
        a.time != b.time ? a.time < b.time : a.seq < b.seq
    }
}
