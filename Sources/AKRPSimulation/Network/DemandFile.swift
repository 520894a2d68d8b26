import AKRPEngine

/// The demand matrix file format (documented in `docs/SIMULATOR.md`): one ordered pair per line,
///
/// ```
/// # comment
/// SOURCE DESTINATION WEIGHT
/// ```
///
/// where a node is named as in its topology file (`node NAME`) or by its number `1…n` (built-in
/// topologies, and file topologies too), and `WEIGHT` is the pair's relative share of the requests
/// (positive; the weights are normalised). A pair may appear once. Every error names the line and field.
public struct DemandFile: Sendable {
    /// (source index, destination index, weight) with 0-based node indices, weights as given.
    public var pairs: [(Int, Int, Double)]

    /// Error for a demand file problem (line 1-based, field named).
    public static func error(_ line: Int, _ field: String, _ reason: String) -> NetworkError {
        .demand(line: line, field: field, reason: reason)
    }

    /// Parses a demand file against `network`.
    /// - Throws: ``NetworkError/demand(line:field:reason:)`` naming the line and field: syntax, unknown
    ///   node, a node paired with itself, a weight that is not a positive number, a duplicate pair, a pair
    ///   farther apart than the protocol's 16-hop path limit, or a file without pairs (line 0).
    public init(parsing text: String, network: SimNetwork) throws(NetworkError) {
        var index: [String: Int] = [:]
        for (i, name) in network.nodeNames.enumerated() { index[name] = i }
        func node(_ word: String, line: Int, field: String) throws(NetworkError) -> Int {
            if let i = index[word] { return i }
            if let n = Int(word), n >= 1, n <= network.nodeCount { return n - 1 }
            throw Self.error(line, field, "unknown node '\(word)' (a node name of the topology or a number 1…\(network.nodeCount))")
        }
        var distances: [Int: [Int]] = [:]
        var seen = Set<Int>()
        var out: [(Int, Int, Double)] = []
        for (lineIndex, raw) in numberedLines(text).enumerated() {
            let lineNumber = lineIndex + 1
            let words = fieldsOfLine(raw, commas: true)
            if words.isEmpty { continue }
            guard words.count == 3 else {
                throw Self.error(lineNumber, "pair", "expected 'SOURCE DESTINATION WEIGHT', got \(words.count) words")
            }
            let s = try node(words[0], line: lineNumber, field: "source")
            let d = try node(words[1], line: lineNumber, field: "destination")
            guard s != d else { throw Self.error(lineNumber, "destination", "a node cannot ask itself for key") }
            guard let w = Double(words[2]), w.isFinite, w > 0 else {
                throw Self.error(lineNumber, "weight", "'\(words[2])' is not a positive number")
            }
            guard seen.insert(s * network.nodeCount + d).inserted else {
                throw Self.error(lineNumber, "pair", "pair \(words[0]) \(words[1]) is given twice")
            }
            if distances[s] == nil { distances[s] = network.hopDistances(from: s) }
            let hops = distances[s]![d]
            guard hops > 0 && hops <= Path.maxHops else {
                throw Self.error(lineNumber, "destination", "\(words[1]) is \(hops) hops from \(words[0]); paths are limited to \(Path.maxHops)")
            }
            out.append((s, d, w))
        }
        guard !out.isEmpty else { throw Self.error(0, "pair", "no pairs (lines 'SOURCE DESTINATION WEIGHT')") }
        pairs = out
    }
}
