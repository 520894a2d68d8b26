import AKRPDevice
import AKRPEngine

/// A JSON value for the device commands' `--json` output.
enum DeviceJSON {
    case string(String)
    case number(UInt64)
    case bool(Bool)
    case null
    case object([(String, DeviceJSON)])
    case array([DeviceJSON])

    var text: String {
        switch self {
        case .string(let s): "\"" + Self.escape(s) + "\""
        case .number(let n): "\(n)"
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        case .object(let fields): "{" + fields.map { "\"\(Self.escape($0.0))\":\($0.1.text)" }.joined(separator: ",") + "}"
        case .array(let items): "[" + items.map(\.text).joined(separator: ",") + "]"
        }
    }

    private static func escape(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
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
