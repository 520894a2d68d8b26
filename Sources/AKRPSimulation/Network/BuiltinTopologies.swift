import AKRPEngine

extension SimNetwork {
    /// NSFNET: 14 nodes, 21 links. Link lengths are the usual NSFNET figures (300…4800 km); the key
    /// rate falls linearly from 20 kbit/s at 300 km to 5 kbit/s at 4800 km, the classical one-way
    /// delay is 2 ms + 1 ms per 1000 km (2.3…6.8 ms, i.e. a one-hop RTT of about 10 ms).
    public static func nsfnet() -> SimNetwork {
        let edges: [(Int, Int, Double)] = [
            (1, 2, 2100), (1, 3, 3000), (1, 8, 4800), (2, 3, 1200), (2, 4, 1500), (3, 6, 3600), (4, 5, 1200),
            (4, 11, 3900), (5, 6, 2400), (5, 7, 1200), (6, 10, 2100), (6, 14, 3600), (7, 8, 1500), (8, 9, 1500),
            (9, 10, 1500), (9, 12, 600), (9, 13, 600), (11, 12, 1200), (11, 13, 1500), (12, 14, 600), (13, 14, 300),
        ]
        let links = edges.map { (a, b, km) in
            SimLink(
                a: a - 1, b: b - 1, rate: 20_000 - 15_000 * (km - 300) / 4500,
                delay: 2_000_000 + Nanoseconds(km * 1000))
        }
        // Valid by construction.
        return try! SimNetwork(name: "nsfnet", nodeCount: 14, links: links)
    }

    /// A long backbone of trusted relays: a chain of 28 nodes (10 kbit/s, 0.5 ms per hop) with four
    /// spurs of one node each (5 kbit/s) at relays 5, 12, 19 and 26 — 32 nodes, 31 links.
    public static func chain32() -> SimNetwork {
        var links: [SimLink] = []
        for i in 0..<27 { links.append(SimLink(a: i, b: i + 1, rate: 10_000, delay: 500_000)) }
        for (k, at) in [4, 11, 18, 25].enumerated() {
            links.append(SimLink(a: at, b: 28 + k, rate: 5_000, delay: 500_000))
        }
        return try! SimNetwork(name: "chain32", nodeCount: 32, links: links)
    }

    /// An R×C grid, 10 kbit/s and 1 ms per link.
    /// - Throws: ``NetworkError/specification(_:)`` when R·C < 2.
    public static func grid(rows: Int, columns: Int) throws(NetworkError) -> SimNetwork {
        guard rows >= 1, columns >= 1, rows * columns >= 2 else {
            throw .specification("grid needs at least 2 nodes, got \(rows)x\(columns)")
        }
        var links: [SimLink] = []
        for r in 0..<rows {
            for c in 0..<columns {
                let i = r * columns + c
                if c + 1 < columns { links.append(SimLink(a: i, b: i + 1, rate: 10_000, delay: 1_000_000)) }
                if r + 1 < rows { links.append(SimLink(a: i, b: i + columns, rate: 10_000, delay: 1_000_000)) }
            }
        }
        return try SimNetwork(name: "grid:\(rows)x\(columns)", nodeCount: rows * columns, links: links)
    }

    /// A Waxman random graph of `n` nodes in the unit square: link probability
    /// `β·exp(−d / (α·√2))` with α = 0.15 and β chosen for a mean degree of about 4; degrees are capped
    /// at `maxDegree`; components are joined to the largest one by their geometrically nearest pair.
    /// Key rate uniform in 5…20 kbit/s, delay 1 ms + 4 ms per unit of distance.
    /// - Throws: ``NetworkError/specification(_:)`` when n < 2.
    public static func waxman(nodes n: Int, seed: UInt64, maxDegree: Int = 12) throws(NetworkError) -> SimNetwork {
        guard n >= 2 else { throw .specification("waxman needs at least 2 nodes, got \(n)") }
        var rng = SplitMix64(seed: seed ^ 0x57A8_4A11)
        let xs = (0..<n).map { _ in rng.unit() }
        let ys = (0..<n).map { _ in rng.unit() }
        func dist(_ i: Int, _ j: Int) -> Double {
            let dx = xs[i] - xs[j], dy = ys[i] - ys[j]
            return (dx * dx + dy * dy).squareRoot()
        }
        let alpha = 0.15 * 2.0.squareRoot()
        var mean = 0.0
        var samples = 0
        for _ in 0..<4000 {
            let i = Int(rng.next() % UInt64(n)), j = Int(rng.next() % UInt64(n))
            if i == j { continue }
            mean += _exp(-dist(i, j) / alpha)
            samples += 1
        }
        mean /= Double(max(samples, 1))
        let beta = min(1.0, 4.0 / (Double(n - 1) * max(mean, 1e-12)))
        var degree = Array(repeating: 0, count: n)
        var links: [SimLink] = []
        var present = Set<Int>()
        func add(_ i: Int, _ j: Int, _ rng: inout SplitMix64) {
            let key = min(i, j) * n + max(i, j)
            guard present.insert(key).inserted else { return }
            degree[i] += 1
            degree[j] += 1
            links.append(
                SimLink(
                    a: i, b: j, rate: 5_000 + 15_000 * rng.unit(),
                    delay: 1_000_000 + Nanoseconds(4_000_000 * dist(i, j))))
        }
        for i in 0..<n {
            for j in (i + 1)..<n where degree[i] < maxDegree && degree[j] < maxDegree {
                if rng.unit() < beta * _exp(-dist(i, j) / alpha) { add(i, j, &rng) }
            }
        }
        // Join components: label them, then link each smaller component to the largest by its nearest pair.
        var label = Array(repeating: -1, count: n)
        var adj = Array(repeating: [Int](), count: n)
        for l in links { adj[l.a].append(l.b); adj[l.b].append(l.a) }
        var sizes: [Int] = []
        for s in 0..<n where label[s] < 0 {
            let c = sizes.count
            var stack = [s]
            label[s] = c
            var size = 0
            while let x = stack.popLast() {
                size += 1
                for y in adj[x] where label[y] < 0 {
                    label[y] = c
                    stack.append(y)
                }
            }
            sizes.append(size)
        }
        if sizes.count > 1 {
            let main = sizes.indices.max { sizes[$0] < sizes[$1] }!
            let inMain = (0..<n).filter { label[$0] == main && degree[$0] < maxDegree + 2 }
            for c in sizes.indices where c != main {
                var best = (Double.infinity, 0, 0)
                for i in 0..<n where label[i] == c {
                    for j in inMain {
                        let d = dist(i, j)
                        if d < best.0 { best = (d, i, j) }
                    }
                }
                add(best.1, best.2, &rng)
            }
        }
        return try SimNetwork(name: "waxman:\(n)", nodeCount: n, links: links)
    }

    /// A built-in topology by name: `nsfnet`, `chain32`, `grid:RxC`, `waxman:N`; nil if the name is
    /// none of these (then it is a file path).
    /// - Throws: ``NetworkError/specification(_:)`` for a malformed `grid:`/`waxman:` argument.
    public static func builtin(_ spec: String, seed: UInt64) throws(NetworkError) -> SimNetwork? {
        if spec == "nsfnet" { return nsfnet() }
        if spec == "chain32" { return chain32() }
        if spec.hasPrefix("grid:") {
            let parts = spec.dropFirst(5).split(separator: "x")
            guard parts.count == 2, let r = Int(parts[0]), let c = Int(parts[1]) else {
                throw .specification("grid wants grid:RxC, e.g. grid:8x8, got '\(spec)'")
            }
            guard r >= 1, c >= 1, r <= SimNetwork.maxNodes, c <= SimNetwork.maxNodes / r else {
                throw .specification("grid:RxC wants R, C ≥ 1 and R·C ≤ \(SimNetwork.maxNodes), got '\(spec)'")
            }
            return try grid(rows: r, columns: c)
        }
        if spec.hasPrefix("waxman:") {
            guard let n = Int(spec.dropFirst(7)) else { throw .specification("waxman wants waxman:N, got '\(spec)'") }
            guard n >= 2 && n <= SimNetwork.maxNodes else {
                throw .specification("waxman:N wants 2 ≤ N ≤ \(SimNetwork.maxNodes), got '\(spec)'")
            }
            return try waxman(nodes: n, seed: seed)
        }
        return nil
    }
}

/// exp without Foundation (range reduction by ln 2, Taylor series).
@inline(__always)
func _exp(_ x: Double) -> Double {
    if x < -700 { return 0 }
    let ln2 = 0.693_147_180_559_945_3
    let k = (x / ln2).rounded()
    let r = x - k * ln2
    var term = 1.0
    var sum = 1.0
    var i = 1.0
    while i < 20 {
        term *= r / i
        sum += term
        i += 1
    }
    var p = sum
    var e = Int(k)
    while e > 0 { p *= 2; e -= 1 }
    while e < 0 { p /= 2; e += 1 }
    return p
}
