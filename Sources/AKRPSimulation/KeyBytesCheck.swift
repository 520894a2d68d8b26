import AKRPEngine

/// Invariant 1 checked from the bytes, not from the engine's word.
///
/// The harness knows the device streams (``LinkKeyStreams``), so it can recompute what every delivered
/// key must be: the end-to-end key of a branch is the stream bytes of the units of its first hop
/// (docs/PROTOCOL.md §9.1), in ascending index order. The units are those the branch's first hop
/// consumed (reported by either end of that hop); the bytes are generated here from the stream. A key
/// that differs from them — an engine that consumes one unit and reports another — is a violation.
///
/// Independently of any report, every delivered key and every authentication key is cut into
/// unit-sized pieces and each piece is remembered with its owner: the same stream bytes in the keys of
/// two requests, or in a key and an authentication tag, are a violation (key reuse seen in the output).
struct KeyBytesCheck {
    /// What used a piece of stream bytes.
    enum Owner: Equatable, CustomStringConvertible {
        case key(RequestID)
        case authentication(LinkID, UnitIndex)
        var description: String {
            switch self {
            case .key(let request): "the key of \(request)"
            case .authentication(let link, let index): "the authentication key of unit \(index) of link \(link)"
            }
        }
    }

    private struct BranchHop: Hashable {
        var request: RequestID
        var branch: UInt8
        var link: LinkID
    }

    let streams: LinkKeyStreams
    /// The units each (request, branch) consumed on each link, as the first end to consume reported them.
    private var consumed: [BranchHop: UnitRuns] = [:]
    /// Every piece of stream bytes seen in a key or an authentication key, with its first user.
    private var owners: [[UInt8]: Owner] = [:]
    /// Keys compared byte for byte with the stream bytes of the units they name.
    private(set) var keysChecked = 0
    /// Authentication keys compared with their stream bytes.
    private(set) var authenticationKeysChecked = 0

    init(streams: LinkKeyStreams) { self.streams = streams }

    /// Notes the units a `unitsConsumed` event names.
    mutating func noteConsumed(request: RequestID, branch: UInt8, link: LinkID, units: UnitRuns) {
        let hop = BranchHop(request: request, branch: branch, link: link)
        if consumed[hop] == nil { consumed[hop] = units }
    }

    /// Checks one delivered key; returns the problems found (empty when the key is right).
    mutating func checkKey(
        _ bytes: [UInt8], request: RequestID, branch: UInt8, role: KeyRole, path: Path, node: NodeID
    ) -> [String] {
        guard path.hops >= 1 else { return ["\(request)/\(branch) delivered at \(node) with an empty path"] }
        let firstHop = LinkID(path[0], path[1])
        var problems: [String] = []
        let hop = BranchHop(request: request, branch: branch, link: firstHop)
        if let units = consumed[hop] {
            keysChecked += 1
            if let expected = streams.bytes(link: firstHop, units: units) {
                if expected != bytes {
                    problems.append(
                        "the \(role) key of \(request)/\(branch) at \(node) is not the stream bytes of the units "
                            + "its first hop \(firstHop) consumed (\(units))")
                }
            } else {
                problems.append("\(request)/\(branch): first hop \(firstHop) is not a link of the network")
            }
        } else {
            problems.append(
                "the \(role) key of \(request)/\(branch) at \(node) was delivered, but its first hop \(firstHop) "
                    + "consumed no units for it")
        }
        problems += claim(bytes, as: .key(request))
        return problems
    }

    /// Checks the key of one authenticated frame: unit `index` of `link`, the first `bytes.count` bytes.
    mutating func checkAuthenticationKey(_ bytes: [UInt8], link: LinkID, index: UnitIndex) -> [String] {
        authenticationKeysChecked += 1
        var units = UnitRuns()
        try? units.append(index)
        guard let expected = streams.bytes(link: link, units: units) else {
            return ["authentication key of unknown link \(link)"]
        }
        guard bytes.count <= expected.count, expected[0..<bytes.count].elementsEqual(bytes) else {
            return ["the authentication key of unit \(index) of link \(link) is not that unit's stream bytes"]
        }
        return claim(expected, as: .authentication(link, index))
    }

    /// Notes unit `index` of `link` as taken for authentication (the shell reports the index, the bytes
    /// are the stream's): its stream bytes are claimed like a key's.
    mutating func checkAuthenticationUnit(link: LinkID, index: UnitIndex) -> [String] {
        authenticationKeysChecked += 1
        var units = UnitRuns()
        try? units.append(index)
        guard let bytes = streams.bytes(link: link, units: units) else {
            return ["authentication unit of unknown link \(link)"]
        }
        return claim(bytes, as: .authentication(link, index))
    }

    /// Remembers every unit-sized piece of `bytes` as used by `owner`; a piece already used by another
    /// owner is a problem.
    private mutating func claim(_ bytes: [UInt8], as owner: Owner) -> [String] {
        let size = streams.unitSize
        var problems: [String] = []
        var offset = 0
        while offset + size <= bytes.count {
            let piece = Array(bytes[offset..<(offset + size)])
            if let first = owners[piece] {
                if first != owner { problems.append("the same stream bytes are in \(first) and in \(owner)") }
            } else {
                owners[piece] = owner
            }
            offset += size
        }
        return problems
    }
}
