public import AKRPEngine

/// Where in a ``NodeConfiguration`` a setting lives, named as the text format names it (docs/CONFIG.md).
public enum ConfigurationPlace: Sendable, Equatable, CustomStringConvertible {
    /// The top-level settings (before any section): `node`, `listen`, `control-socket`, …
    case top
    /// The `[engine]` section.
    case engine
    /// The `[keys]` section.
    case keys
    /// The `[peers]` section.
    case peers
    /// The `[topology]` section as a whole.
    case topology
    /// The `node` line `index` (0-based, in written order) of `[topology]`, for node `id`.
    case topologyNode(index: Int, id: NodeID)
    /// The `link` line `index` (0-based, in written order) of `[topology]`, between `a` and `b`.
    case topologyLink(index: Int, a: NodeID, b: NodeID)
    /// The `[neighbour N]` section `index` (0-based, in written order), for node `node`.
    case neighbour(index: Int, node: NodeID)
    /// The `[key-delivery]` section.
    case keyDelivery
    /// The `[sae ID]` section `index` (0-based, in written order).
    case sae(index: Int, id: String)

    /// The section as written in the text format: `[engine]`, `[topology] link 1-2`, `[neighbour 3]`; empty
    /// for the top level.
    public var description: String {
        switch self {
        case .top: ""
        case .engine: "[engine]"
        case .keys: "[keys]"
        case .peers: "[peers]"
        case .topology: "[topology]"
        case .topologyNode(_, let id): "[topology] node \(id.rawValue)"
        case .topologyLink(_, let a, let b): "[topology] link \(a.rawValue)-\(b.rawValue)"
        case .neighbour(_, let node): "[neighbour \(node.rawValue)]"
        case .keyDelivery: "[key-delivery]"
        case .sae(_, let id): "[sae \(id)]"
        }
    }
}

/// Why a ``NodeConfiguration`` cannot be used. Fields are named as the text format writes them (`rate`,
/// `unit-size`), never by their Swift property names.
public enum ConfigurationValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The setting `field` of `place` (nil: the section or line as a whole) is out of range or inconsistent;
    /// `reason` says what is allowed and what was given.
    case invalid(place: ConfigurationPlace, field: String?, reason: String)
    /// The topology links this node to `node` (named `name`, by link number `link` in written order), but
    /// no `[neighbour]` section configures that link.
    case missingNeighbour(node: NodeID, name: String, link: Int)
    /// The neighbour section `index` configures `node`, which is not a neighbour of this node; `reason`
    /// says why (not in the topology, not linked, this node itself).
    case extraNeighbour(index: Int, node: NodeID, reason: String)

    /// One line: `[neighbour 3] field 'address': …`.
    public var description: String {
        switch self {
        case .invalid(let place, let field, let reason):
            Self.prefix(section: place.description, field: field) + reason
        case .missingNeighbour(let node, let name, _):
            Self.missingNeighbourReason(node: node, name: name)
        case .extraNeighbour(_, let node, let reason):
            "[neighbour \(node.rawValue)]: " + reason
        }
    }

    /// `[section] field 'name': `, `[section]: `, `field 'name': ` or nothing.
    static func prefix(section: String, field: String?) -> String {
        switch (section.isEmpty, field) {
        case (true, nil): ""
        case (true, let field?): "field '\(field)': "
        case (false, nil): section + ": "
        case (false, let field?): section + " field '\(field)': "
        }
    }

    static func missingNeighbourReason(node: NodeID, name: String) -> String {
        "node \(node.rawValue) '\(name)' is linked to this node in the topology but has no [neighbour \(node.rawValue)] section"
    }
}
