import AKRPDevice
import Foundation

/// The human rendering of one SMP statistics group: its counters as a table; latency buckets
/// (`NAME_le_BOUNDus`, `NAME_le_inf`) as one histogram table with a column per histogram; for a `device-N`
/// group a health line first (state, QBER, alarms, key rate).
enum StatisticsRendering {
    static func render(group name: String, _ fields: [(String, UInt64)]) -> String {
        var counters: [(String, UInt64)] = []
        var histograms: [String] = []
        var buckets: [String: [(String, UInt64)]] = [:]
        for (field, value) in fields {
            guard let (histogram, bound) = bucketName(field) else {
                counters.append((field, value))
                continue
            }
            if buckets[histogram] == nil { histograms.append(histogram) }
            buckets[histogram, default: []].append((bound, value))
        }
        var out = "[\(name)]\n"
        if name.hasPrefix("device-"), let line = healthLine(fields) { out += line + "\n" }
        out += deviceTable(["COUNTER", "VALUE"], counters.map { [$0.0, "\($0.1)"] }) + "\n"
        if let first = histograms.first, let bounds = buckets[first]?.map(\.0) {
            out += "\nlatency histograms (cumulative: how many took at most BOUND)\n"
            let rows = bounds.enumerated().map { i, bound in
                [boundText(bound)] + histograms.map { h in buckets[h].flatMap { $0.count > i ? "\($0[i].1)" : nil } ?? "-" }
            }
            out += deviceTable(["≤ BOUND"] + histograms, rows) + "\n"
        }
        return out
    }

    /// `relay_step_le_250us` → (`relay_step`, `250us`); `relay_step_le_inf` → (`relay_step`, `inf`).
    static func bucketName(_ field: String) -> (String, String)? {
        guard let range = field.range(of: "_le_", options: .backwards) else { return nil }
        let bound = String(field[range.upperBound...])
        let digits = bound.hasSuffix("us") ? bound.dropLast(2) : ""
        guard bound == "inf" || (!digits.isEmpty && digits.allSatisfy(\.isNumber)) else { return nil }
        return (String(field[..<range.lowerBound]), bound)
    }

    /// `250us` → `250 µs`, `2500us` → `2.5 ms`, `1000000us` → `1 s`, `inf` → `+Inf`.
    static func boundText(_ bound: String) -> String {
        guard let us = UInt64(bound.dropLast(2)) else { return "+Inf" }
        func trimmed(_ v: Double) -> String {
            v == v.rounded() ? "\(Int(v))" : "\(v)"
        }
        if us >= 1_000_000 { return trimmed(Double(us) / 1e6) + " s" }
        if us >= 1_000 { return trimmed(Double(us) / 1e3) + " ms" }
        return "\(us) µs"
    }

    /// `state streaming, QBER 1.20 %, alarms: qber, measured key rate 3.20 Mbit/s`, from a device group's fields.
    static func healthLine(_ fields: [(String, UInt64)]) -> String? {
        let f = Dictionary(fields, uniquingKeysWith: { a, _ in a })
        guard let rate = f["measured_key_rate_bps"] else { return nil }
        var parts: [String] = []
        if let state = f["device_state"] {
            parts.append("state " + (state <= 255 ? DeviceStatus.State(rawValue: UInt8(state)) : nil).name)
        }
        if let qber = f["qber_ppm"] {
            parts.append("QBER " + String(format2: Double(qber) / 10_000) + " %")
        }
        if f["alarm_qber"] != nil {
            var bits: UInt8 = 0
            if f["alarm_qber"] == 1 { bits |= DeviceStatus.qberAlarm }
            if f["alarm_units_lost"] == 1 { bits |= DeviceStatus.unitsLostAlarm }
            if f["alarm_configuration_invalid"] == 1 { bits |= DeviceStatus.configurationInvalidAlarm }
            let names = alarmNames(bits)
            parts.append("alarms: " + (names.isEmpty ? "none" : names.joined(separator: ", ")))
        }
        parts.append("measured key rate " + String(format2: Double(rate) / 1e6) + " Mbit/s")
        return parts.joined(separator: ", ")
    }
}

extension String {
    /// A number with two decimals, without Foundation's formatter.
    fileprivate init(format2 value: Double) {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        self = "\(hundredths / 100)." + (fraction < 10 ? "0" : "") + "\(fraction)"
    }
}
