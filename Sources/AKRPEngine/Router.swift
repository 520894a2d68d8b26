/// Path search over the configured topology with key-aware link costs. Scratch space is allocated once
/// per router; a search allocates nothing.
public final class Router {
    /// The network searched.
    public let topology: Topology
    private let n: Int
    private let dist: UnsafeMutablePointer<Double>
    private let prevLink: UnsafeMutablePointer<Int32>
    private let prevNode: UnsafeMutablePointer<Int32>
    private let penalty: UnsafeMutablePointer<Double>
    private let heapCost: UnsafeMutablePointer<Double>
    private let heapNode: UnsafeMutablePointer<Int32>
    private let heapCapacity: Int
    /// Free units last announced per link (link-state), and the time of the announcement.
    let level: UnsafeMutablePointer<Double>
    let rate: UnsafeMutablePointer<Double>
    private let directHopsTable: UnsafeMutablePointer<UInt8>
    /// `dist`, `prevLink` and `prevNode` of node i belong to the latest search only when `stamp[i]` is
    /// `generation`: a search resets nothing but the nodes it reaches.
    private let stamp: UnsafeMutablePointer<UInt32>
    /// The latest search's stamp, `stamp[n]` (kept in the scratch space: no exclusivity check per search).
    private var generation: UInt32 {
        get { stamp[n] }
        set { stamp[n] = newValue }
    }

    /// Allocates the search scratch space for `topology` once.
    public init(topology: Topology) {
        self.topology = topology
        n = topology.nodes.count
        dist = .allocate(capacity: max(n, 1))
        prevLink = .allocate(capacity: max(n, 1))
        prevNode = .allocate(capacity: max(n, 1))
        let l = max(topology.links.count, 1)
        penalty = .allocate(capacity: l)
        penalty.initialize(repeating: 0, count: l)
        level = .allocate(capacity: l)
        rate = .allocate(capacity: l)
        for i in 0..<topology.links.count {
            level[i] = 0
            rate[i] = topology.links[i].unitsPerSecond
        }
        heapCapacity = 2 * topology.links.count + n + 1
        heapCost = .allocate(capacity: heapCapacity)
        heapNode = .allocate(capacity: heapCapacity)
        directHopsTable = .allocate(capacity: max(n, 1))
        directHopsTable.initialize(repeating: 255, count: max(n, 1))
        stamp = .allocate(capacity: n + 1)
        stamp.initialize(repeating: 0, count: n + 1)
    }

    deinit {
        dist.deallocate(); prevLink.deallocate(); prevNode.deallocate(); penalty.deallocate()
        heapCost.deallocate(); heapNode.deallocate(); level.deallocate(); rate.deallocate()
        directHopsTable.deallocate(); stamp.deallocate()
    }

    /// Records announced link state: `level` free units, `rate` units per second.
    public func update(link: Int, level l: Double, rate r: Double) {
        guard link >= 0 && link < topology.links.count else { return }
        level[link] = l
        if r > 0 { rate[link] = r }
    }

    /// Free units last known for a link.
    public func knownLevel(link: Int) -> Double { level[link] }

    /// Cost of a link for a request of `units` units, in milliseconds.
    @inline(__always)
    private func cost(link: Int, delay: Nanoseconds, units: Int, keyAware: Bool) -> Double {
        var c = Double(delay) / 1_000_000 + 0.01
        if keyAware {
            let missing = Double(units) - level[link]
            if missing > 0 { c += missing / max(rate[link], 1e-9) * 1000 }
        }
        return c + penalty[link]
    }

    /// Finds up to `count` paths from `source` to `destination`, preferring link-disjoint ones.
    /// Writes them into `out` and returns how many were found (0 = no route).
    public func paths(
        from source: NodeID, to destination: NodeID, units: Int, keyAware: Bool, count: Int,
        into out: inout InlineArray<4, Path>
    ) -> Int {
        guard let s = topology.nodeIndex[source], let d = topology.nodeIndex[destination], s != d else { return 0 }
        var found = 0
        var attempt = 0
        while found < min(count, 4) && attempt < count + 2 {
            attempt += 1
            guard let p = shortest(s, d, units: units, keyAware: keyAware) else { break }
            var duplicate = false
            var j = 0
            while j < found {
                if out[j] == p { duplicate = true }
                j += 1
            }
            // Penalise the links of this path so that the next search prefers disjoint ones. The search's
            // tree still holds the link of every hop (`prevLink`, walked from the destination back): no
            // lookup by link name is needed (the topology has no parallel links, so it is the same link).
            var y = d
            while y != s {
                penalty[Int(prevLink[y])] += 1_000_000
                y = Int(prevNode[y])
            }
            if duplicate { continue }
            out[found] = p
            found += 1
        }
        var i = 0
        while i < topology.links.count { penalty[i] = 0; i += 1 }
        return found
    }

    /// Hop counts of the least-delay (key-unaware) paths from `source` to every node, for detour admission:
    /// the topology is static, so they are computed once. 255 = unreachable or longer than a path may be.
    public func prepareDirectHops(from source: NodeID) {
        var i = 0
        while i < n { directHopsTable[i] = 255; i += 1 }
        guard let s = topology.nodeIndex[source] else { return }
        dijkstra(s, stopAt: -1, units: 0, keyAware: false)
        var y = 0
        while y < n {
            if reached(y) {
                var hops = 0
                var z = y
                while z != s && hops <= Path.maxHops {
                    hops += 1
                    z = Int(prevNode[z])
                }
                if hops <= Path.maxHops { directHopsTable[y] = UInt8(hops) }
            }
            y += 1
        }
    }

    /// Hops of the least-delay path to `destination` from the node given to `prepareDirectHops`.
    public func directHops(to destination: NodeID) -> Int? {
        guard let d = topology.nodeIndex[destination], directHopsTable[d] != 255 else { return nil }
        return Int(directHopsTable[d])
    }

    private func shortest(_ s: Int, _ d: Int, units: Int, keyAware: Bool) -> Path? {
        dijkstra(s, stopAt: d, units: units, keyAware: keyAware)
        guard reached(d) else { return nil }
        return walkBack(s, d)
    }

    /// Sets the search generation (tests: the wrap-around after 2³² searches).
    func setSearchGeneration(_ g: UInt32) { generation = g }

    /// Whether the latest search reached node `i` (its `dist`, `prevLink`, `prevNode` are then valid).
    @inline(__always) private func reached(_ i: Int) -> Bool { stamp[i] == generation && dist[i] < .infinity }

    /// Dijkstra from `s` (stopping once `stopAt` is settled; −1 = the whole tree) into `dist`/`prevNode`.
    /// Only the nodes it reaches are touched (``stamp``); the adjacency is read without bounds checks.
    private func dijkstra(_ s: Int, stopAt d: Int, units: Int, keyAware: Bool) {
        generation &+= 1
        if generation == 0 {
            // Wrapped after 2³² searches: clear the stamps once.
            stamp.update(repeating: 0, count: n)
            generation = 1
        }
        let g = generation
        stamp[s] = g
        dist[s] = 0
        prevLink[s] = -1
        prevNode[s] = -1
        topology.adjStart.withUnsafeBufferPointer { start in
            topology.adjNode.withUnsafeBufferPointer { adjNode in
                topology.adjLink.withUnsafeBufferPointer { adjLink in
                    topology.links.withUnsafeBufferPointer { links in
                        var size = 0
                        push(&size, 0, Int32(s))
                        while size > 0 {
                            let (c, x) = pop(&size)
                            let xi = Int(x)
                            if c > dist[xi] { continue }
                            if xi == d { break }
                            var k = start[xi]
                            let last = start[xi + 1]
                            while k < last {
                                let y = adjNode[k]
                                let li = adjLink[k]
                                let nc = c + cost(link: li, delay: links[li].delay, units: units, keyAware: keyAware)
                                if stamp[y] != g || nc < dist[y] {
                                    stamp[y] = g
                                    dist[y] = nc
                                    prevLink[y] = Int32(li)
                                    prevNode[y] = x
                                    if size < heapCapacity { push(&size, nc, Int32(y)) }
                                }
                                k += 1
                            }
                        }
                    }
                }
            }
        }
    }

    private func walkBack(_ s: Int, _ d: Int) -> Path? {
        // Walk back; reject paths longer than the protocol allows.
        var hops = 0
        var y = d
        while y != s {
            hops += 1
            // A chain that ends before the source (no predecessor) is no path of this search.
            if hops > Path.maxHops || prevNode[y] < 0 { return nil }
            y = Int(prevNode[y])
        }
        var p = Path()
        var nodes = InlineArray<17, UInt32>(repeating: 0)
        y = d
        var k = hops
        while true {
            nodes[k] = topology.nodes[y].rawValue
            if y == s { break }
            y = Int(prevNode[y])
            k -= 1
        }
        p.setNodes(nodes, count: hops + 1)
        return p
    }

    private func push(_ size: inout Int, _ c: Double, _ x: Int32) {
        var i = size
        size += 1
        heapCost[i] = c
        heapNode[i] = x
        while i > 0 {
            let p = (i - 1) / 2
            if heapCost[p] <= heapCost[i] { break }
            swapAt(i, p)
            i = p
        }
    }

    private func pop(_ size: inout Int) -> (Double, Int32) {
        let top = (heapCost[0], heapNode[0])
        size -= 1
        heapCost[0] = heapCost[size]
        heapNode[0] = heapNode[size]
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < size && heapCost[l] < heapCost[m] { m = l }
            if r < size && heapCost[r] < heapCost[m] { m = r }
            if m == i { break }
            swapAt(i, m)
            i = m
        }
        return top
    }

    @inline(__always) private func swapAt(_ a: Int, _ b: Int) {
        let c = heapCost[a]; heapCost[a] = heapCost[b]; heapCost[b] = c
        let x = heapNode[a]; heapNode[a] = heapNode[b]; heapNode[b] = x
    }
}

extension Path {
    /// Sets the node list directly (router use; the caller guarantees a loop-free walk).
    mutating func setNodes(_ list: InlineArray<17, UInt32>, count: Int) {
        nodes = list
        nodeCount = UInt8(count)
    }
}
