/// Splits the text format into lines and each line into its parts: a section header, a `field = value`
/// setting, or the words of a `[topology]` line. Works on UTF-8 bytes (every syntax character is ASCII),
/// so a CR of a CRLF line ending is never glued to the line feed as one `Character`.
enum ConfigurationLexer {
    /// One meaningful line.
    enum Line: Equatable {
        /// `[word argument…]`: the header's words.
        case header([String])
        /// `name = value`; `value` without quotes or comment.
        case setting(name: String, value: String)
        /// The blank-separated words of a line (in `[topology]`), without comment.
        case words([String])
    }

    /// The lines of `bytes` without their LF or CRLF endings (and without a leading UTF-8 byte order mark).
    static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var start = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        var lines: [ArraySlice<UInt8>] = []
        var i = start
        while i < bytes.count {
            if bytes[i] == 0x0A {
                lines.append(trimCR(bytes[start..<i]))
                start = i + 1
            }
            i += 1
        }
        if start < bytes.count { lines.append(trimCR(bytes[start..<bytes.count])) }
        return lines
    }

    private static func trimCR(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        line.last == 0x0D ? line.dropLast() : line
    }

    /// Reads one line; nil for a blank or comment line. `wordsMode` reads the line as blank-separated
    /// words (the `[topology]` section) unless it is a header.
    /// - Throws: the reason it is malformed.
    static func read(_ raw: ArraySlice<UInt8>, wordsMode: Bool) throws(LineProblem) -> Line? {
        for byte in raw where (byte < 0x20 && byte != 0x09) || byte == 0x7F {
            throw LineProblem(field: nil, reason: "control character 0x\(hex(byte)) in the line")
        }
        guard String(validating: raw, as: UTF8.self) != nil else {
            throw LineProblem(field: nil, reason: "not valid UTF-8 text")
        }
        let line = trim(raw)
        guard let first = line.first, first != UInt8(ascii: "#") else { return nil }
        if first == UInt8(ascii: "[") { return try header(line) }
        if wordsMode { return .words(words(stripComment(line))) }
        return try setting(line)
    }

    /// A problem in one line: the field it concerns, if known, and why.
    struct LineProblem: Error {
        var field: String?
        var reason: String
    }

    private static func header(_ line: ArraySlice<UInt8>) throws(LineProblem) -> Line {
        guard let close = line.firstIndex(of: UInt8(ascii: "]")) else {
            throw LineProblem(field: nil, reason: "section header without ']'")
        }
        let rest = trim(line[(close + 1)...])
        guard rest.isEmpty || rest.first == UInt8(ascii: "#") else {
            throw LineProblem(field: nil, reason: "unexpected text after the section header: '\(string(rest))'")
        }
        let inside = words(line[(line.startIndex + 1)..<close])
        guard !inside.isEmpty else { throw LineProblem(field: nil, reason: "empty section header '[]'") }
        return .header(inside)
    }

    private static func setting(_ line: ArraySlice<UInt8>) throws(LineProblem) -> Line {
        guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else {
            let word = words(stripComment(line)).first ?? ""
            throw LineProblem(field: nil, reason: "expected 'field = value', got '\(word)' without '='")
        }
        let nameBytes = trim(line[..<equals])
        let name = string(nameBytes)
        let nameOK = !nameBytes.isEmpty && nameBytes.allSatisfy {
            TextValue.isDigit($0) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z"))
                || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
        }
        guard nameOK else {
            throw LineProblem(field: nil, reason: "expected 'field = value', got field name '\(name)'")
        }
        var rest = trim(line[(equals + 1)...])
        if rest.first == UInt8(ascii: "\"") {
            rest = rest.dropFirst()
            var value: [UInt8] = []
            var escaping = false
            while let byte = rest.first {
                rest = rest.dropFirst()
                if escaping {
                    value.append(byte)
                    escaping = false
                } else if byte == UInt8(ascii: "\\") {
                    escaping = true
                } else if byte == UInt8(ascii: "\"") {
                    let tail = trim(rest)
                    guard tail.isEmpty || tail.first == UInt8(ascii: "#") else {
                        throw LineProblem(field: name, reason: "unexpected text after the closing quote: '\(string(tail))'")
                    }
                    return .setting(name: name, value: string(value[...]))
                } else {
                    value.append(byte)
                }
            }
            throw LineProblem(field: name, reason: "unterminated quoted string (no closing '\"')")
        }
        let value = trim(stripComment(rest))
        guard !value.isEmpty else { throw LineProblem(field: name, reason: "missing value after '='") }
        return .setting(name: name, value: string(value))
    }

    private static func stripComment(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        guard let hash = line.firstIndex(of: UInt8(ascii: "#")) else { return line }
        return line[..<hash]
    }

    private static func words(_ line: ArraySlice<UInt8>) -> [String] {
        line.split(whereSeparator: TextValue.isBlank).map { string($0) }
    }

    private static func trim(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var s = line
        while let f = s.first, TextValue.isBlank(f) { s = s.dropFirst() }
        while let l = s.last, TextValue.isBlank(l) { s = s.dropLast() }
        return s
    }

    /// The bytes as text; they were checked to be UTF-8 before.
    private static func string(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}
