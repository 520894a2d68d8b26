/// Standard base64 (RFC 4648 §4, with `=` padding) for the SMP serial transport, without Foundation.
public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let values: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    /// The base64 text of `bytes`, padded to a multiple of four characters.
    public static func encode(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var it = bytes.makeIterator()
        while let a = it.next() {
            let b = it.next()
            let c = b == nil ? nil : it.next()
            let n = UInt32(a) << 16 | UInt32(b ?? 0) << 8 | UInt32(c ?? 0)
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(b == nil ? UInt8(ascii: "=") : alphabet[Int(n >> 6 & 63)])
            out.append(c == nil ? UInt8(ascii: "=") : alphabet[Int(n & 63)])
        }
        return out
    }

    /// Decodes base64 text made of whole four-character groups. A padded group may be followed by more
    /// groups (text that was encoded in pieces and joined decodes as the joined bytes). Nil when the text
    /// is not base64: a length that is not a multiple of four, a character outside the alphabet, or
    /// misplaced padding.
    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        guard text.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 4 * 3)
        var group = (UInt8(0), UInt8(0), UInt8(0), UInt8(0))
        var i = 0
        for c in text {
            switch i & 3 {
            case 0: group.0 = c
            case 1: group.1 = c
            case 2: group.2 = c
            default:
                group.3 = c
                guard decodeGroup(group, into: &out) else { return nil }
            }
            i += 1
        }
        return out
    }

    private static func decodeGroup(_ g: (UInt8, UInt8, UInt8, UInt8), into out: inout [UInt8]) -> Bool {
        let pad = UInt8(ascii: "=")
        let a = values[Int(g.0)], b = values[Int(g.1)]
        guard a != 0xFF, b != 0xFF else { return false }
        if g.2 == pad {
            guard g.3 == pad, b & 0x0F == 0 else { return false }
            out.append(a << 2 | b >> 4)
            return true
        }
        let c = values[Int(g.2)]
        guard c != 0xFF else { return false }
        if g.3 == pad {
            guard c & 0x03 == 0 else { return false }
            out.append(a << 2 | b >> 4)
            out.append(b << 4 | c >> 2)
            return true
        }
        let d = values[Int(g.3)]
        guard d != 0xFF else { return false }
        out.append(a << 2 | b >> 4)
        out.append(b << 4 | c >> 2)
        out.append(c << 6 | d)
        return true
    }
}
