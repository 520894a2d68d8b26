/// A JSON value with object keys in a fixed order: the one JSON writer of the box's programs (the
/// configuration's `--json`, the daemon's state dump, `akrpctl`'s `--json` output).
public enum JSONValue: Sendable {
    case string(String)
    case unsigned(UInt64)
    case signed(Int)
    case real(Double)
    case bool(Bool)
    case null
    case object([(String, JSONValue)])
    case array([JSONValue])

    /// The value on one line (no spaces), as programs read it.
    public var compact: String {
        var out = ""
        writeCompact(to: &out)
        return out
    }

    /// The value indented by two spaces per level, as people read it.
    public var indented: String {
        var out = ""
        write(to: &out, indent: "")
        return out
    }

    func writeCompact(to out: inout String) {
        switch self {
        case .object(let fields):
            out += "{"
            for (i, (key, value)) in fields.enumerated() {
                if i > 0 { out += "," }
                out += Self.quoted(key) + ":"
                value.writeCompact(to: &out)
            }
            out += "}"
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.writeCompact(to: &out)
            }
            out += "]"
        default:
            write(to: &out, indent: "")
        }
    }

    func write(to out: inout String, indent: String) {
        switch self {
        case .string(let s): out += Self.quoted(s)
        case .unsigned(let n): out += "\(n)"
        case .signed(let n): out += "\(n)"
        case .real(let x): out += x.isFinite ? TextValue.formatReal(x) : "null"
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .object(let fields):
            guard !fields.isEmpty else {
                out += "{}"
                return
            }
            out += "{\n"
            for (i, (key, value)) in fields.enumerated() {
                out += indent + "  " + Self.quoted(key) + ": "
                value.write(to: &out, indent: indent + "  ")
                out += i == fields.count - 1 ? "\n" : ",\n"
            }
            out += indent + "}"
        case .array(let items):
            guard !items.isEmpty else {
                out += "[]"
                return
            }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += indent + "  "
                item.write(to: &out, indent: indent + "  ")
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += indent + "]"
        }
    }

    /// `s` as a JSON string literal.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
