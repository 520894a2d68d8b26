public import AKRPEngine

/// The arrival process of key requests.
public enum WorkloadKind: String, Sendable, CaseIterable {
    /// Poisson arrivals, pairs uniform over the routable pairs.
    case poisson
    /// Poisson Pareto burst process: bursts start as a Poisson process, last a Pareto time
    /// (shape 1.5, mean 1 s: long-range dependent, Hurst 0.75) and emit Poisson requests for one pair.
    case ppbp
    /// Poisson arrivals; half the demand on four hotspot pairs, half uniform.
    case hotspot
}

/// One key request of the workload: identical for every protocol of a run.
public struct Arrival: Sendable, Equatable {
    /// Arrival time.
    public var time: Nanoseconds
    /// Source node index (0-based).
    public var source: Int32
    /// Destination node index (0-based).
    public var destination: Int32
    /// Key bits asked for.
    public var bits: Int32
}

/// The demand: which ordered pairs ask for key and in what proportion (weights sum to 1). Pairs are
/// restricted to those at most 16 hops apart (the protocol's path limit).
public struct Demand: Sendable {
    /// Number of nodes of the network.
    public let nodeCount: Int
    /// Hop distance per ordered pair, row-major (255 = unreachable or beyond 16 hops).
    public let hops: [UInt8]
    /// Ordered pairs at most 16 hops apart.
    public let routablePairs: Int
    /// Hotspot pairs and their total share of the demand.
    public let hotspots: [(Int, Int)]
    /// Share of the demand on the hotspot pairs (hotspot workload).
    public let hotspotShare: Double
    /// Explicit demand matrix (from a file): pairs and weights summing to 1; overrides the rest.
    public let matrix: [(Int, Int, Double)]?

    /// The demand of `kind` on `network`; hotspot pairs are drawn from `seed`.
    public init(network: SimNetwork, kind: WorkloadKind, seed: UInt64) {
        let n = network.nodeCount
        var h = [UInt8](repeating: 255, count: n * n)
        var count = 0
        for s in 0..<n {
            let d = network.hopDistances(from: s)
            for t in 0..<n where t != s && d[t] > 0 && d[t] <= Path.maxHops {
                h[s * n + t] = UInt8(d[t])
                count += 1
            }
        }
        nodeCount = n
        hops = h
        routablePairs = count
        matrix = nil
        if kind == .hotspot {
            var rng = SplitMix64(seed: seed ^ 0x407_5907)
            var spots: [(Int, Int)] = []
            var guardCount = 0
            while spots.count < 4 && guardCount < 10_000 {
                guardCount += 1
                let s = Int(rng.next() % UInt64(n)), t = Int(rng.next() % UInt64(n))
                guard s != t, h[s * n + t] != 255, !spots.contains(where: { $0 == (s, t) }) else { continue }
                spots.append((s, t))
            }
            hotspots = spots
            hotspotShare = spots.isEmpty ? 0 : 0.5
        } else {
            hotspots = []
            hotspotShare = 0
        }
    }

    /// A demand from an explicit matrix of (source, destination, weight) with 0-based node indices.
    public init(network: SimNetwork, matrix m: [(Int, Int, Double)]) {
        let total = m.reduce(0) { $0 + $1.2 }
        nodeCount = network.nodeCount
        hops = []
        routablePairs = m.count
        hotspots = []
        hotspotShare = 0
        matrix = m.map { ($0.0, $0.1, $0.2 / total) }
    }

    /// Every pair with positive weight (for the flow bound). Quadratic in the node count.
    public func weightedPairs() -> [(Int, Int, Double)] {
        if let m = matrix { return m }
        var out: [(Int, Int, Double)] = []
        let base = (1 - hotspotShare) / Double(max(routablePairs, 1))
        for s in 0..<nodeCount {
            for t in 0..<nodeCount where hops[s * nodeCount + t] != 255 {
                var w = base
                if hotspots.contains(where: { $0 == (s, t) }) { w += hotspotShare / Double(hotspots.count) }
                out.append((s, t, w))
            }
        }
        return out
    }

    /// Draws one pair according to the weights.
    func draw(_ rng: inout SplitMix64, cumulative: [Double]) -> (Int, Int) {
        if let m = matrix {
            let u = rng.unit()
            var lo = 0, hi = m.count - 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if cumulative[mid] < u { lo = mid + 1 } else { hi = mid }
            }
            return (m[lo].0, m[lo].1)
        }
        if !hotspots.isEmpty && rng.unit() < hotspotShare {
            return hotspots[Int(rng.next() % UInt64(hotspots.count))]
        }
        while true {
            let s = Int(rng.next() % UInt64(nodeCount)), t = Int(rng.next() % UInt64(nodeCount))
            if s != t && hops[s * nodeCount + t] != 255 { return (s, t) }
        }
    }

    /// The arrivals of `kind` at `rate` requests per second over `[0, duration)`, each of `bits`
    /// bits, drawn from `seed`. Sorted by time.
    public func arrivals(
        kind: WorkloadKind, rate: Double, duration: Nanoseconds, bits: Int, seed: UInt64
    ) -> [Arrival] {
        var rng = SplitMix64(seed: seed ^ 0xA221_7A15)
        var cumulative: [Double] = []
        if let m = matrix {
            var c = 0.0
            for p in m { c += p.2; cumulative.append(c) }
        }
        var out: [Arrival] = []
        guard rate > 0 else { return out }
        switch kind {
        case .poisson, .hotspot:
            var t = rng.exponential(mean: 1e9 / rate)
            while t < Double(duration) {
                let (s, d) = draw(&rng, cumulative: cumulative)
                out.append(Arrival(time: Nanoseconds(t), source: Int32(s), destination: Int32(d), bits: Int32(bits)))
                t += rng.exponential(mean: 1e9 / rate)
            }
        case .ppbp:
            // Mean 10 bursts in progress; burst length Pareto(shape 1.5, mean 1 s).
            let concurrent = 10.0
            let meanLength = 1e9
            let shape = 1.5
            let scale = meanLength * (shape - 1) / shape
            let perBurst = rate / concurrent
            var start = rng.exponential(mean: meanLength / concurrent)
            // Bursts already running at time 0 are approximated by starting the process 5 s early.
            start -= 5e9
            while start < Double(duration) {
                let u = max(rng.unit(), 1e-12)
                let length = scale / _pow(u, 1 / shape)
                let (s, d) = draw(&rng, cumulative: cumulative)
                var t = start + rng.exponential(mean: 1e9 / perBurst)
                while t < start + length && t < Double(duration) {
                    if t >= 0 {
                        out.append(Arrival(time: Nanoseconds(t), source: Int32(s), destination: Int32(d), bits: Int32(bits)))
                    }
                    t += rng.exponential(mean: 1e9 / perBurst)
                }
                start += rng.exponential(mean: meanLength / concurrent)
            }
            out.sort { $0.time < $1.time }
        }
        return out
    }
}

/// x^y for x > 0 without Foundation.
@inline(__always)
func _pow(_ x: Double, _ y: Double) -> Double { _exp(y * _log(x)) }
