import AKRPEngine
import AKRPSimulation
import ArgumentParser
import Foundation

/// `akrp-sim run`: reading the option values that are lists or ranges.
extension Run {
    /// The AKRP latency budgets of `--budget-ms`, ms (empty when malformed).
    var budgets: [Double] {
        let parts = budgetMs.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) > 0 }) else { return [] }
        return parts.map { $0! }
    }

    /// `value` must be a finite number in `range`, else a ValidationError naming `option`.
    func check(_ option: String, _ value: Double, _ range: ClosedRange<Double>, _ unit: String) throws {
        guard value.isFinite && range.contains(value) else {
            throw ValidationError("\(option) must be \(range.lowerBound)…\(range.upperBound) \(unit), got \(value)")
        }
    }

    func protocolList() throws -> [ProtocolKind] {
        try protocols.split(separator: ",").map {
            guard let p = ProtocolKind(rawValue: String($0)) else { throw ValidationError("unknown protocol '\($0)'") }
            return p
        }
    }

    func routingList() throws -> [RoutingPolicy] {
        try routing.split(separator: ",").map {
            guard let r = RoutingPolicy(rawValue: String($0)) else { throw ValidationError("unknown routing '\($0)'") }
            return r
        }
    }

    func loads() throws -> [Double] {
        let out = try loadValues()
        guard out.allSatisfy({ $0.isFinite && $0 <= 1000 }), out.count <= 1000 else {
            throw ValidationError("--load: at most 1000 points, each at most 1000 × the bound, got '\(load)'")
        }
        return out
    }

    func loadValues() throws -> [Double] {
        let wrong = ValidationError("--load wants X, a list X,Y,… or A:B:STEP with 0 < A ≤ B and STEP > 0, got '\(load)'")
        if load.contains(",") {
            let list = load.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard list.allSatisfy({ ($0 ?? 0) > 0 }) else { throw wrong }
            return list.map { $0! }
        }
        let parts = load.split(separator: ":").map { Double($0) }
        if parts.count == 1, let x = parts[0], x > 0 { return [x] }
        guard parts.count == 3, let a = parts[0], let b = parts[1], let s = parts[2], a > 0, b >= a, s > 0 else {
            throw wrong
        }
        guard a.isFinite, b.isFinite, (b - a) / s < 1000 else {
            throw ValidationError("--load: at most 1000 points, each at most 1000 × the bound, got '\(load)'")
        }
        var out: [Double] = []
        var k = 0
        while a + Double(k) * s <= b + 1e-9 {
            out.append(((a + Double(k) * s) * 1000).rounded() / 1000)
            k += 1
        }
        return out
    }

    /// An engine configuration error in the words of this command's options (the engine's field names
    /// mean nothing to a user of `akrp-sim run`).
    func explain(_ error: any Error) -> String {
        guard let configuration = error as? ConfigurationError, case .invalid(let field, let reason) = configuration else {
            return "\(error)"
        }
        switch field {
        case "maxRequestUnits":
            return "--request-bits \(requestBits): a request needs more key units than one pool holds (\(reason)); "
                + "raise --pool-capacity (\(poolCapacity)) or lower --request-bits"
        case "poolCapacity": return "--pool-capacity \(poolCapacity): \(reason)"
        case "recordCapacity", "accumulatorCapacity", "sourceCapacity": return "--records \(records): \(reason)"
        case "linkStateRadius": return "--link-state-radius \(linkStateRadius): \(reason)"
        case "etaDeviations": return "--eta-deviations \(etaDeviations): \(reason)"
        case "maxNeighbours": return "--topology \(topology): a node has more links than an engine takes (\(reason))"
        default: return "the engine refuses this scenario (its setting '\(field)': \(reason))"
        }
    }
}
