import AKRPEngine

/// Reads the typed values of one section's settings; every error names the setting's line, the section
/// as written and the field, and quotes the value as written.
struct ConfigurationFieldReader {
    typealias Failure = ConfigurationFileError
    let section: RawSection

    /// The value of `field` as written, or nil when it is not set.
    func text(_ field: String) -> String? { section.settings[field]?.value }

    /// An error about `field` at its line (or the section header's when it is not written).
    func invalid(_ field: String, _ reason: String) -> Failure {
        .invalidValue(line: section.settings[field]?.line ?? section.line, section: section.label, field: field, reason: reason)
    }

    /// A required field's value.
    func required(_ field: String) throws(Failure) -> String {
        guard let value = text(field) else { throw .missingField(line: section.line, section: section.label, field: field) }
        return value
    }

    func string(_ field: String, into target: inout String) {
        if let value = text(field) { target = value }
    }

    func integer<T: FixedWidthInteger>(
        _ field: String, _ allowed: ClosedRange<T>, _ unit: String, into target: inout T
    ) throws(Failure) {
        guard let value = text(field) else { return }
        target = try integer(field, value, allowed, unit)
    }

    func integer<T: FixedWidthInteger>(
        _ field: String, _ value: String, _ allowed: ClosedRange<T>, _ unit: String
    ) throws(Failure) -> T {
        let parenthesised = unit.isEmpty ? "" : " (\(unit))"
        let spaced = unit.isEmpty ? "" : " \(unit)"
        switch TextValue.unsigned(value) {
        case .success(let n):
            if let v = T(exactly: n), allowed.contains(v) { return v }
        case .failure(.tooLarge):
            break
        case .failure:
            let kind = allowed.lowerBound >= 1 ? "a positive integer" : "a non-negative integer"
            throw invalid(field, "must be \(kind)\(parenthesised), got '\(value)'")
        }
        throw invalid(field, "must be \(allowed.lowerBound)…\(allowed.upperBound)\(spaced), got '\(value)'")
    }

    /// A duration written in milliseconds (`seconds`: in seconds) with a decimal fraction down to the
    /// nanosecond.
    func duration(
        _ field: String, _ allowed: ClosedRange<Nanoseconds>, seconds: Bool = false, into target: inout Nanoseconds
    ) throws(Failure) {
        guard let value = text(field) else { return }
        target = try duration(field, value, allowed, seconds: seconds)
    }

    func duration(
        _ field: String, _ value: String, _ allowed: ClosedRange<Nanoseconds>, seconds: Bool = false
    ) throws(Failure) -> Nanoseconds {
        let digits = seconds ? 9 : 6
        switch TextValue.fixedPoint(value, fractionDigits: digits) {
        case .success(let ns):
            if allowed.contains(ns) { return ns }
        case .failure(.tooLarge):
            break
        case .failure(.tooPrecise):
            throw invalid(field, "at most \(digits) decimal places (a nanosecond), got '\(value)'")
        case .failure(.syntax):
            let example = seconds ? "300 or 0.5" : "200 or 0.5"
            throw invalid(field, "must be a number of \(seconds ? "seconds" : "milliseconds") (e.g. \(example)), got '\(value)'")
        }
        throw invalid(field, ConfigurationChecker.durationBounds(allowed, seconds: seconds) + ", got '\(value)'")
    }

    func boolean(_ field: String, into target: inout Bool) throws(Failure) {
        guard let value = text(field) else { return }
        guard let b = TextValue.boolean(value) else { throw invalid(field, "must be yes or no, got '\(value)'") }
        target = b
    }

    func real(_ field: String, _ allowed: ClosedRange<Double>, into target: inout Double) throws(Failure) {
        guard let value = text(field) else { return }
        let bounds = "\(TextValue.formatReal(allowed.lowerBound))…\(TextValue.formatReal(allowed.upperBound))"
        guard let x = TextValue.real(value) else { throw invalid(field, "must be a decimal number \(bounds), got '\(value)'") }
        guard allowed.contains(x) else { throw invalid(field, "must be \(bounds), got '\(value)'") }
        target = x
    }

    func address(_ field: String, _ value: String) throws(Failure) -> NetworkAddress {
        switch TextValue.address(value) {
        case .success(let a): return a
        case .failure(let problem): throw invalid(field, problem.reason(value))
        }
    }
}
