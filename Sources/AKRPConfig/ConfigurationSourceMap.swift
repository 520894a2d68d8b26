import AKRPEngine

/// One section of a text file as read: its header and its settings with their lines.
struct RawSection {
    /// One `field = value` setting.
    struct Setting {
        var value: String
        var line: Int
    }

    var kind: ConfigurationSchema.Section
    /// The header as written, without brackets and with single blanks (`neighbour gamma`); nil for the top level.
    var label: String?
    /// The header's line; nil for the top level.
    var line: Int?
    var settings: [String: Setting] = [:]
}

/// Where each value of a parsed text file was written, to turn a ``ConfigurationValidationError`` into a
/// ``ConfigurationFileError`` naming the line and the section as written.
struct ConfigurationSourceMap {
    var top = RawSection(kind: .top)
    var engine: RawSection?
    var keys: RawSection?
    var peers: RawSection?
    var management: RawSection?
    var topologyLine: Int?
    /// Line of each `node` line of `[topology]`, in written order.
    var nodeLines: [Int] = []
    /// Line of each `link` line of `[topology]`, in written order.
    var linkLines: [Int] = []
    /// Each `[neighbour]` section, in the order of ``NodeConfiguration/neighbours``.
    var neighbours: [RawSection] = []
    /// `[key-delivery]`, and each `[sae ID]` section in the order of ``NodeConfiguration/saes``.
    var keyDelivery: RawSection?
    var saes: [RawSection] = []

    /// The text file error for a problem found by ``NodeConfiguration/validate()``.
    func fileError(_ error: ConfigurationValidationError) -> ConfigurationFileError {
        switch error {
        case .invalid(let place, let field, let reason):
            let (line, section) = locate(place, field: field)
            return .invalidValue(line: line, section: section, field: field, reason: reason)
        case .missingNeighbour(let node, let name, let link):
            return .missingNeighbour(line: linkLines.indices.contains(link) ? linkLines[link] : topologyLine, node: node.rawValue, name: name)
        case .extraNeighbour(let index, let node, let reason):
            guard neighbours.indices.contains(index), let line = neighbours[index].line, let label = neighbours[index].label else {
                return .invalidValue(line: nil, section: "neighbour \(node.rawValue)", field: nil, reason: reason)
            }
            return .extraNeighbour(line: line, section: label, reason: reason)
        }
    }

    /// The line and section label of `field` in `place`: the field's own line when written, else the
    /// section header's.
    func locate(_ place: ConfigurationPlace, field: String?) -> (line: Int?, section: String?) {
        func inSection(_ s: RawSection?, _ word: String) -> (Int?, String?) {
            guard let s else { return (nil, word) }
            return (field.flatMap { s.settings[$0]?.line } ?? s.line, s.label ?? word)
        }
        switch place {
        case .top:
            return (field.flatMap { top.settings[$0]?.line }, nil)
        case .engine: return inSection(engine, "engine")
        case .keys: return inSection(keys, "keys")
        case .peers: return inSection(peers, "peers")
        case .topology: return (topologyLine, "topology")
        case .topologyNode(let index, _):
            return (nodeLines.indices.contains(index) ? nodeLines[index] : topologyLine, "topology")
        case .topologyLink(let index, _, _):
            return (linkLines.indices.contains(index) ? linkLines[index] : topologyLine, "topology")
        case .neighbour(let index, let node):
            guard neighbours.indices.contains(index) else { return (nil, "neighbour \(node.rawValue)") }
            return inSection(neighbours[index], "neighbour \(node.rawValue)")
        case .keyDelivery: return inSection(keyDelivery, "key-delivery")
        case .sae(let index, let id):
            guard saes.indices.contains(index) else { return (nil, "sae \(id)") }
            return inSection(saes[index], "sae \(id)")
        }
    }
}
