/// The sections and field names of the text format, and suggestions for misspelt ones.
enum ConfigurationSchema {
    /// A kind of section.
    enum Section: Equatable {
        case top, engine, keys, peers, topology, management
        /// `[neighbour X]` with its node reference as written.
        case neighbour(String)
        /// `[key-delivery]` (ETSI GS QKD 014 service).
        case keyDelivery
        /// `[sae ID]` with the SAE ID as written.
        case sae(String)

        /// The header word.
        var word: String {
            switch self {
            case .top: ""
            case .engine: "engine"
            case .keys: "keys"
            case .peers: "peers"
            case .topology: "topology"
            case .management: "management"
            case .neighbour: "neighbour"
            case .keyDelivery: "key-delivery"
            case .sae: "sae"
            }
        }

        /// The fields this section accepts (`[topology]` has lines, not fields).
        var fields: [String] {
            switch self {
            case .top: ConfigurationSchema.topFields
            case .engine: ConfigurationSchema.engineFields
            case .keys: ConfigurationSchema.keyFields
            case .peers: ConfigurationSchema.peerFields
            case .topology: []
            case .management: ConfigurationSchema.managementFields
            case .neighbour: ConfigurationSchema.neighbourFields
            case .keyDelivery: ConfigurationSchema.keyDeliveryFields
            case .sae: ConfigurationSchema.saeFields
            }
        }
    }

    static let sectionWords = ["engine", "keys", "peers", "topology", "neighbour", "management", "key-delivery", "sae"]

    static let topFields = ["node", "listen", "control-socket", "state-dir", "log-level", "high-water-step"]
    static let requiredTopFields = ["node", "listen", "control-socket", "state-dir"]
    static let engineFields = [
        "unit-size", "pool-capacity", "ownership-block", "max-request-units", "records", "sources", "accumulators",
        "outbox", "events", "max-neighbours", "paths", "adaptive-multipath", "latency-budget-ms", "lease-ms",
        "completion-grace-ms", "branch-window-ms", "reroutes", "retry-interval-ms", "abort-attempts",
        "link-state-interval-ms", "link-state-check-ms", "link-state-radius", "nominal-rate-before-pattern",
        "detour-budget-ms", "key-aware-routing", "borrowing", "yield", "yield-margin-ms", "eta-deviations",
        "authentication-reserve", "delivered-hold-ms", "link-state-hold-ms", "detour-reserve", "frame-hold-ms",
    ]
    static let keyFields = ["capacity", "expiry-s", "request-timeout-ms"]
    static let peerFields = ["reconnect-min-ms", "reconnect-max-ms", "keepalive-s", "pending-frames", "pending-messages"]
    static let managementFields = ["socket", "udp", "serial", "confirm-timeout-s", "image-keys"]
    static let neighbourFields = ["address", "source", "seed", "epoch", "rate", "block-ms", "jitter", "serial", "path"]
    /// Which neighbour fields each source kind takes besides `address` and `source`.
    static let sourceFields: [String: [String]] = [
        "simulated": ["seed", "epoch", "rate", "block-ms", "jitter"],
        "usb": ["serial"],
        "trace": ["path"],
    ]
    static let sourceKinds = ["simulated", "usb", "trace"]
    /// Keywords of `[topology]` lines and the attributes of a `link` line.
    static let topologyKeywords = ["node", "link"]
    static let linkAttributes = ["rate", "delay-ms"]

    /// The section (header word, empty for the top level) that has field `name`, when `section` does not.
    static func owner(of name: String, besides section: Section) -> String? {
        let all: [(String, [String])] = [
            ("", topFields), ("engine", engineFields), ("keys", keyFields), ("peers", peerFields),
            ("neighbour N", neighbourFields), ("management", managementFields), ("key-delivery", keyDeliveryFields), ("sae ID", saeFields),
        ]
        return all.first { $0.0 != section.word && !(section == .top && $0.0.isEmpty) && $0.1.contains(name) }?.0
    }

    /// The candidate closest to `word` when it is close enough to be a likely misspelling: at most one
    /// edit for short words, two for words of six characters or more.
    static func suggestion(for word: String, among candidates: [String], maximumDistance: Int? = nil) -> String? {
        let limit = maximumDistance ?? (word.utf8.count >= 6 ? 2 : 1)
        guard word.utf8.count <= 64 else { return nil }
        var best: (String, Int)?
        for c in candidates {
            let d = editDistance(Array(word.utf8), Array(c.utf8))
            if d <= limit, d < (best?.1 ?? Int.max) { best = (c, d) }
        }
        return best?.0
    }

    /// Levenshtein distance, with a transposition of neighbouring characters counting as one edit.
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var before = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], before[j - 2] + 1)
                }
            }
            (before, previous, current) = (previous, current, before)
        }
        return previous[b.count]
    }
}
