/// One CBOR data item (RFC 8949) as SMP bodies use them. Maps keep their pairs in the order read or
/// written (SMP clients look fields up by key; order is kept so that encoding is deterministic).
public enum CBORValue: Sendable, Equatable {
    /// Major type 0: an unsigned integer.
    case unsigned(UInt64)
    /// Major type 1: the integer `-1 - n`.
    case negative(UInt64)
    /// Major type 2: a byte string.
    case bytes([UInt8])
    /// Major type 3: a text string (valid UTF-8).
    case text(String)
    /// Major type 4: an array.
    case array([CBORValue])
    /// Major type 5: a map, pairs in order.
    case map([(CBORValue, CBORValue)])
    /// Major type 6: a tagged item.
    indirect case tagged(UInt64, CBORValue)
    /// Simple values false and true.
    case bool(Bool)
    /// Simple value null.
    case null
    /// Simple value undefined.
    case undefined
    /// Any other simple value (0…19, 32…255).
    case simple(UInt8)
    /// A floating-point number (half, single or double on the wire).
    case float(Double)

    /// Structural equality: same case and equal contents; map pairs must match in order, and two NaN floats are equal.
    public static func == (a: CBORValue, b: CBORValue) -> Bool {
        switch (a, b) {
        case (.unsigned(let x), .unsigned(let y)): x == y
        case (.negative(let x), .negative(let y)): x == y
        case (.bytes(let x), .bytes(let y)): x == y
        case (.text(let x), .text(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.map(let x), .map(let y)):
            x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.tagged(let t, let x), .tagged(let u, let y)): t == u && x == y
        case (.bool(let x), .bool(let y)): x == y
        case (.null, .null), (.undefined, .undefined): true
        case (.simple(let x), .simple(let y)): x == y
        case (.float(let x), .float(let y)): x == y || (x.isNaN && y.isNaN)
        default: false
        }
    }

    /// The value of text key `key` in a map, or nil (not a map, or no such key).
    public subscript(key: String) -> CBORValue? {
        guard case .map(let pairs) = self else { return nil }
        for (k, v) in pairs { if case .text(let s) = k, s == key { return v } }
        return nil
    }

    /// The value as a non-negative integer that fits `UInt64`, or nil.
    public var unsignedValue: UInt64? { if case .unsigned(let n) = self { n } else { nil } }

    /// The value as a signed integer that fits `Int64`, or nil.
    public var integerValue: Int64? {
        switch self {
        case .unsigned(let n): n <= UInt64(Int64.max) ? Int64(n) : nil
        case .negative(let n): n <= UInt64(Int64.max) ? -1 - Int64(n) : nil
        default: nil
        }
    }

    /// The value as text, or nil.
    public var textValue: String? { if case .text(let s) = self { s } else { nil } }

    /// The value as a byte string, or nil.
    public var bytesValue: [UInt8]? { if case .bytes(let b) = self { b } else { nil } }

    /// The value as a boolean, or nil.
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }

    /// A map from text keys (convenience for building answers).
    public static func object(_ pairs: [(String, CBORValue)]) -> CBORValue {
        .map(pairs.map { (.text($0.0), $0.1) })
    }

    /// A signed integer.
    public static func int(_ n: Int64) -> CBORValue { n >= 0 ? .unsigned(UInt64(n)) : .negative(UInt64(-1 - n)) }
}
