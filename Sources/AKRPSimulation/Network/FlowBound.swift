import AKRPEngine

/// The flow bound of a scenario: the maximum concurrent multicommodity flow of the key-rate graph for
/// the demand — the largest end-to-end throughput λ (bit/s) such that λ·w(s,d) can be routed for every
/// pair at once with the summed flow over each link (both directions share one key stream) at most its
/// key rate. `tools/flow-bound.py` solves the exact LP (scipy HiGHS); this is the in-process
/// approximation used when no exact value is given.
public struct FlowBound: Sendable {
    /// The bound, end-to-end bit/s.
    public var bitsPerSecond: Double
    /// How it was obtained: `garg-koenemann` (ε = 0.05, a feasible flow within a few % of the optimum)
    /// or `shortest-path-feasible` (a feasible flow on shortest paths: a lower bound, for large networks).
    public var method: String

    /// Computes the bound of `demand` on `network`.
    public init(network: SimNetwork, demand pairs: [(Int, Int, Double)], epsilon: Double = 0.05) {
        let n = network.nodeCount
        let m = network.links.count
        let adj = network.adjacency()
        let cap = network.links.map(\.rate)
        var dist = [Double](repeating: 0, count: n)
        var prevLink = [Int](repeating: -1, count: n)
        var prevNode = [Int](repeating: -1, count: n)
        func shortest(_ s: Int, _ length: [Double]) {
            for i in 0..<n { dist[i] = .infinity; prevLink[i] = -1 }
            dist[s] = 0
            var heap: [(Double, Int)] = [(0, s)]
            while !heap.isEmpty {
                var best = 0
                for i in 1..<heap.count where heap[i].0 < heap[best].0 { best = i }
                heap.swapAt(best, heap.count - 1)
                let (c, x) = heap.removeLast()
                if c > dist[x] { continue }
                for (y, l) in adj[x] {
                    let nc = c + length[l]
                    if nc < dist[y] {
                        dist[y] = nc
                        prevLink[y] = l
                        prevNode[y] = x
                        heap.append((nc, y))
                    }
                }
            }
        }
        // Shortest-path (hop count) routing: a feasible lower bound β.
        var load = [Double](repeating: 0, count: m)
        var bySource: [Int: [(Int, Double)]] = [:]
        for (s, d, w) in pairs { bySource[s, default: []].append((d, w)) }
        let hopLength = [Double](repeating: 1, count: m)
        for (s, list) in bySource {
            shortest(s, hopLength)
            for (d, w) in list {
                var y = d
                while y != s && prevLink[y] >= 0 {
                    load[prevLink[y]] += w
                    y = prevNode[y]
                }
            }
        }
        var beta = Double.infinity
        for e in 0..<m where load[e] > 0 { beta = min(beta, cap[e] / load[e]) }
        if !beta.isFinite { beta = 0 }
        guard pairs.count * n <= 400_000, beta > 0 else {
            bitsPerSecond = beta
            method = "shortest-path-feasible"
            return
        }
        // Garg–Könemann / Fleischer max concurrent flow on demands w·β.
        let delta = _pow(Double(m) / (1 - epsilon), -1 / epsilon)
        var length = cap.map { delta / $0 }
        var total = Double(m) * delta
        var flow = [Double](repeating: 0, count: m)
        var routed = [Double](repeating: 0, count: pairs.count)
        var phases = 0
        outer: while total < 1 && phases < 100_000 {
            for (j, (s, d, w)) in pairs.enumerated() {
                var remaining = w * beta
                while remaining > 0 {
                    if total >= 1 { break outer }
                    shortest(s, length)
                    var bottleneck = Double.infinity
                    var y = d
                    while y != s {
                        bottleneck = min(bottleneck, cap[prevLink[y]])
                        y = prevNode[y]
                    }
                    let f = min(remaining, bottleneck)
                    remaining -= f
                    routed[j] += f
                    y = d
                    while y != s {
                        let e = prevLink[y]
                        flow[e] += f
                        let grow = length[e] * epsilon * f / cap[e]
                        length[e] += grow
                        total += grow * cap[e]
                        y = prevNode[y]
                    }
                }
            }
            phases += 1
        }
        // Scale the routed flow to feasibility and read off the concurrent throughput.
        var congestion = 0.0
        for e in 0..<m { congestion = max(congestion, flow[e] / cap[e]) }
        var lambda = Double.infinity
        for (j, p) in pairs.enumerated() where p.2 > 0 { lambda = min(lambda, routed[j] / p.2) }
        let value = congestion > 0 ? lambda / congestion : 0
        bitsPerSecond = max(value, beta)
        method = "garg-koenemann"
    }
}
