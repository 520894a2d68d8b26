import AKRPConfig
import AKRPDevice
import AKRPEngine

/// `akrpctl`'s `--json` output is the package's one JSON writer (AKRPConfig's `JSONValue`), on one line.
extension JSONValue {
    var text: String { compact }
}

extension DeviceStatus.State? {
    var name: String {
        switch self {
        case .idle: "idle"
        case .streaming: "streaming"
        case .linkDown: "link-down"
        case nil: "unknown"
        }
    }
}

func alarmNames(_ alarms: UInt8) -> [String] {
    var names: [String] = []
    if alarms & DeviceStatus.qberAlarm != 0 { names.append("qber") }
    if alarms & DeviceStatus.unitsLostAlarm != 0 { names.append("units-lost") }
    if alarms & DeviceStatus.configurationInvalidAlarm != 0 { names.append("configuration-invalid") }
    return names
}

func linkText(_ link: LinkID) -> String { "\(link.low.rawValue)-\(link.high.rawValue)" }

/// Renders a table with left-aligned columns.
func deviceTable(_ header: [String], _ rows: [[String]]) -> String {
    let widths = header.indices.map { column in
        ([header] + rows).map { $0[column].count }.max() ?? 0
    }
    return ([header] + rows).map { row in
        row.indices.map { row[$0].padding(to: widths[$0]) }.joined(separator: "  ")
    }.joined(separator: "\n")
}

extension String {
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
