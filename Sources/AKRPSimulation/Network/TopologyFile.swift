import AKRPEngine

/// The topology file format (documented in `docs/SIMULATOR.md`):
///
/// ```
/// # comment
/// node NAME
/// link NAME_A NAME_B rate=BITS_PER_SECOND delay=MILLISECONDS [capacity=UNITS] [period=SECONDS] [jitter=FRACTION] [trace=PATH]
/// ```
///
/// Nodes are numbered in the order of their `node` lines (NodeID 1, 2, …). Lines end with LF, CRLF or
/// CR. Every error names the line and the field (line 0: the file as a whole, e.g. too few nodes).
public struct TopologyFile: Sendable {
    /// The parsed network.
    public var network: SimNetwork
    /// Link index → trace path named by `trace=`, for the caller to load.
    public var tracePaths: [Int: String]

    /// Parses the text of a topology file.
    /// - Throws: ``NetworkError/file(line:field:reason:)`` for a syntax or value error,
    ///   ``NetworkError/disconnected(_:)`` when the network is not connected.
    public init(parsing text: String, name: String = "file") throws(NetworkError) {
        var names: [String] = []
        var index: [String: Int] = [:]
        var links: [SimLink] = []
        var traces: [Int: String] = [:]
        var pairs = Set<Int64>()
        for (lineIndex, raw) in numberedLines(text).enumerated() {
            let lineNumber = lineIndex + 1
            let words = fieldsOfLine(raw)
            guard let keyword = words.first else { continue }
            switch keyword {
            case "node":
                guard words.count == 2 else {
                    throw .file(line: lineNumber, field: "node", reason: "expected 'node NAME', got \(words.count - 1) words")
                }
                guard index[words[1]] == nil else {
                    throw .file(line: lineNumber, field: "node", reason: "node '\(words[1])' is declared twice")
                }
                index[words[1]] = names.count
                names.append(words[1])
            case "link":
                guard words.count >= 3 else {
                    throw .file(line: lineNumber, field: "link", reason: "expected 'link A B rate=… delay=…'")
                }
                guard let a = index[words[1]] else {
                    throw .file(line: lineNumber, field: "NAME_A", reason: "unknown node '\(words[1])' (declare it with a node line first)")
                }
                guard let b = index[words[2]] else {
                    throw .file(line: lineNumber, field: "NAME_B", reason: "unknown node '\(words[2])' (declare it with a node line first)")
                }
                guard a != b else { throw .file(line: lineNumber, field: "NAME_B", reason: "a link cannot join '\(words[1])' to itself") }
                let pair = Int64(min(a, b)) << 32 | Int64(max(a, b))
                guard pairs.insert(pair).inserted else {
                    throw .file(line: lineNumber, field: "link", reason: "duplicate link \(words[1])-\(words[2])")
                }
                var rate: Double?
                var delay: Double?
                var capacity: Int?
                var period: Double?
                var jitter: Double?
                var given = Set<String>()
                for w in words.dropFirst(3) {
                    let kv = w.split(separator: "=", maxSplits: 1).map(String.init)
                    guard kv.count == 2 else {
                        throw .file(line: lineNumber, field: "link", reason: "'\(w)' is not FIELD=VALUE (rate=…, delay=…)")
                    }
                    guard given.insert(kv[0]).inserted else {
                        throw .file(line: lineNumber, field: kv[0], reason: "given twice on this link line")
                    }
                    func number(_ s: String) throws(NetworkError) -> Double {
                        guard let v = Double(s), v.isFinite else {
                            throw .file(line: lineNumber, field: kv[0], reason: "'\(s)' is not a number")
                        }
                        return v
                    }
                    switch kv[0] {
                    case "rate":
                        let v = try number(kv[1])
                        guard v >= 0.001, v <= 1e12 else {
                            throw .file(line: lineNumber, field: "rate", reason: "must be 0.001…1e12 bit/s, got \(kv[1])")
                        }
                        rate = v
                    case "delay":
                        let v = try number(kv[1])
                        guard v >= 0, v <= 3_600_000 else {
                            throw .file(line: lineNumber, field: "delay", reason: "must be 0…3600000 ms, got \(kv[1])")
                        }
                        delay = v
                    case "capacity":
                        guard let v = Int(kv[1]), v >= 2, v <= 1 << 20 else {
                            throw .file(line: lineNumber, field: "capacity", reason: "must be an integer 2…1048576 units, got \(kv[1])")
                        }
                        capacity = v
                    case "period":
                        let v = try number(kv[1])
                        guard v > 0, v <= 3600 else {
                            throw .file(line: lineNumber, field: "period", reason: "must be positive seconds, at most 3600, got \(kv[1])")
                        }
                        period = v
                    case "jitter":
                        let v = try number(kv[1])
                        guard v >= 0, v < 1 else { throw .file(line: lineNumber, field: "jitter", reason: "must be in [0, 1)") }
                        jitter = v
                    case "trace":
                        traces[links.count] = kv[1]
                    default:
                        throw .file(
                            line: lineNumber, field: "link",
                            reason: "unknown field '\(kv[0])' (rate, delay, capacity, period, jitter, trace)")
                    }
                }
                guard let r = rate else { throw .file(line: lineNumber, field: "rate", reason: "missing (bit/s)") }
                guard let d = delay else { throw .file(line: lineNumber, field: "delay", reason: "missing (ms)") }
                var delivery: KeyDeliveryMode?
                if period != nil || jitter != nil {
                    delivery = .blocks(
                        meanPeriod: Nanoseconds((period ?? 2) * 1e9), jitter: jitter ?? 0.5)
                }
                links.append(
                    SimLink(a: a, b: b, rate: r, delay: Nanoseconds(d * 1e6), capacity: capacity, delivery: delivery))
            default:
                throw .file(line: lineNumber, field: "keyword", reason: "unknown keyword '\(keyword)' (node or link)")
            }
        }
        // Whole-file problems name no line (line 0).
        guard names.count >= 2 else {
            throw .file(line: 0, field: "node", reason: "at least 2 node lines are needed, found \(names.count)")
        }
        guard !links.isEmpty else { throw .file(line: 0, field: "link", reason: "no link lines") }
        network = try SimNetwork(name: name, nodeCount: names.count, links: links, nodeNames: names)
        tracePaths = traces
    }
}

/// The lines of a text file, numbered from 1 by their position: LF, CRLF and CR all end a line, and a
/// final line ending does not start another (empty) line.
func numberedLines(_ text: String) -> [Substring] {
    var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
    if lines.count > 1, lines.last?.isEmpty == true { lines.removeLast() }
    return lines
}

/// The words of a line of the simulator's text files: a `#` starts a comment; blanks and tabs (and
/// commas when `commas`) separate words.
func fieldsOfLine(_ line: Substring, commas: Bool = false) -> [String] {
    let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    return content.split(whereSeparator: { $0 == " " || $0 == "\t" || (commas && $0 == ",") }).map(String.init)
}
