import AKRPEngine

/// Scalar values of the text format: reading them without trapping, and writing them back exactly.
enum TextValue {
    /// Why a number could not be read.
    enum NumberProblem: Error {
        /// Not written as a number of the expected form.
        case syntax
        /// More decimal places than the value can hold (below a nanosecond).
        case tooPrecise
        /// Larger than the target type holds.
        case tooLarge
    }

    /// A decimal integer (`1000000`, `1_000_000`): digits, optionally grouped by single underscores.
    static func unsigned(_ text: String) -> Result<UInt64, NumberProblem> {
        guard !text.utf8.contains(UInt8(ascii: ".")) else { return .failure(.syntax) }
        return fixedPoint(text, fractionDigits: 0)
    }

    /// A decimal number with up to `fractionDigits` decimal places, scaled by 10^`fractionDigits`:
    /// `fixedPoint("0.5", 6)` is 500000. Underscores may group digits of the integer part.
    static func fixedPoint(_ text: String, fractionDigits: Int) -> Result<UInt64, NumberProblem> {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, isDigit(first), let last = bytes.last, last != UInt8(ascii: "_") else {
            return .failure(.syntax)
        }
        var value: UInt64 = 0
        var fraction = 0
        var inFraction = false
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == UInt8(ascii: "_") {
                guard !inFraction, isDigit(previous) else { return .failure(.syntax) }
            } else if byte == UInt8(ascii: ".") {
                guard !inFraction, isDigit(previous) else { return .failure(.syntax) }
                inFraction = true
            } else if isDigit(byte) {
                if inFraction {
                    fraction += 1
                    if fraction > fractionDigits {
                        // Trailing zeros beyond the precision are harmless.
                        if byte == UInt8(ascii: "0") {
                            previous = byte
                            continue
                        }
                        return .failure(.tooPrecise)
                    }
                }
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
                guard !o1, !o2 else { return .failure(.tooLarge) }
                value = s
            } else {
                return .failure(.syntax)
            }
            previous = byte
        }
        guard previous != UInt8(ascii: ".") else { return .failure(.syntax) }
        for _ in min(fraction, fractionDigits)..<fractionDigits {
            let (m, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow else { return .failure(.tooLarge) }
            value = m
        }
        return .success(value)
    }

    /// A real number: digits, an optional fraction and an optional exponent (`0.25`, `1e-05`). No sign,
    /// no `nan`, `inf` or hexadecimal forms; the result is finite.
    static func real(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        var i = 0
        func digits() -> Int {
            let start = i
            while i < bytes.count, isDigit(bytes[i]) { i += 1 }
            return i - start
        }
        guard digits() > 0 else { return nil }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard digits() > 0 else { return nil }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { return nil }
        }
        guard i == bytes.count, bytes.count <= 64, let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// `yes` or `no`.
    static func boolean(_ text: String) -> Bool? {
        switch text {
        case "yes": true
        case "no": false
        default: nil
        }
    }

    /// `host:port` or `[v6-literal]:port`. Only the form is checked here; the host's characters and the
    /// port's range are checked by ``NodeConfiguration/validate()``.
    static func address(_ text: String) -> Result<NetworkAddress, AddressProblem> {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return .failure(.form) }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return .failure(.form) }
            portText = rest.dropFirst()
            guard host.contains(":") else { return .failure(.bracketsWithoutIPv6) }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return .failure(.form) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return .failure(.unbracketedIPv6) }
        }
        guard !host.isEmpty else { return .failure(.form) }
        guard case .success(let port) = unsigned(String(portText)), (1...65_535).contains(port) else {
            return .failure(.port(String(portText)))
        }
        return .success(NetworkAddress(host: String(host), port: UInt16(port)))
    }

    /// Why an address could not be read.
    enum AddressProblem: Error {
        case form
        case unbracketedIPv6
        case bracketsWithoutIPv6
        case port(String)

        func reason(_ text: String) -> String {
            switch self {
            case .form: "must be host:port or [IPv6]:port, got '\(text)'"
            case .unbracketedIPv6: "an IPv6 address must be written in brackets, e.g. [::1]:7401, got '\(text)'"
            case .bracketsWithoutIPv6: "only an IPv6 address is written in brackets, got '\(text)'"
            case .port(let port): "port must be 1…65535, got '\(port)'"
            }
        }
    }

    // MARK: writing

    /// `value` / 10^`fractionDigits` as a decimal without trailing zeros: `formatFixedPoint(500000, 6)` is `0.5`.
    static func formatFixedPoint(_ value: UInt64, fractionDigits: Int) -> String {
        var scale: UInt64 = 1
        for _ in 0..<fractionDigits { scale *= 10 }
        let whole = value / scale
        var fraction = value % scale
        guard fraction != 0 else { return "\(whole)" }
        var digits = fractionDigits
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        let text = "\(fraction)"
        return "\(whole)." + String(repeating: "0", count: digits - text.count) + text
    }

    /// Nanoseconds as milliseconds (`1.5`).
    static func milliseconds(_ ns: Nanoseconds) -> String { formatFixedPoint(ns, fractionDigits: 6) }

    /// Nanoseconds as seconds (`300`, `1764547200.25`).
    static func seconds(_ ns: Nanoseconds) -> String { formatFixedPoint(ns, fractionDigits: 9) }

    /// A real number that ``real(_:)`` reads back exactly.
    static func formatReal(_ value: Double) -> String {
        if value == 0 { return "0" }
        if value.rounded() == value, abs(value) < 1e15 { return "\(Int64(value))" }
        return "\(value)"
    }

    /// `yes` or `no`.
    static func formatBoolean(_ value: Bool) -> String { value ? "yes" : "no" }

    /// A string value, in double quotes when it would otherwise not read back as itself.
    static func formatString(_ value: String) -> String {
        let plain = !value.isEmpty
            && value.utf8.allSatisfy { $0 != UInt8(ascii: "#") && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
            && value.utf8.first.map(isBlank) == false && value.utf8.last.map(isBlank) == false
        if plain { return value }
        var out = "\""
        for scalar in value.unicodeScalars {
            if scalar == "\"" || scalar == "\\" { out += "\\" }
            out.unicodeScalars.append(scalar)
        }
        return out + "\""
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
}
