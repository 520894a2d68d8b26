public import AKRPEngine

/// Why a link configuration file or blob is not valid. Each case names the field.
public enum LinkConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Line `line` is not `name = value`, a comment or blank.
    case syntax(line: Int)
    /// Field `field` (line `line`) is not one this format knows.
    case unknownField(field: String, line: Int)
    /// Field `field` appears twice (second time on line `line`).
    case duplicateField(field: String, line: Int)
    /// A required field is missing.
    case missingField(field: String)
    /// Field `field` on line `line` has an invalid value; `reason` says what is allowed.
    case invalidValue(field: String, line: Int, reason: String)
    /// A binary blob from a device is malformed.
    case malformedBlob(reason: String)

    /// The problem in words, naming the line and field or the blob's fault.
    public var description: String {
        switch self {
        case .syntax(let line): "line \(line): expected `name = value`"
        case .unknownField(let field, let line): "line \(line): unknown field '\(field)'"
        case .duplicateField(let field, let line): "line \(line): field '\(field)' given twice"
        case .missingField(let field): "missing field '\(field)'"
        case .invalidValue(let field, let line, let reason): "line \(line): field '\(field)': \(reason)"
        case .malformedBlob(let reason): "malformed configuration blob: \(reason)"
        }
    }
}

/// A QKD device's link configuration: what the device serves and how.
///
/// Text form (documented in Hardware/QKD-USB.md, "Link configuration file"), `#` starts a comment:
/// ```
/// link = 3-7              # the two node IDs of the link, any order
/// local-node = 3          # the node this device is attached to: one of the two
/// unit-size = 32          # bytes per key unit, 1...4096
/// frame-units = 256       # most units per key frame, 1...1024
/// min-key-rate = 1000000  # bits/s; below it the device raises the low-rate alarm (0 = off)
/// qber-alarm = 0.05       # QBER alarm threshold, a fraction in [0, 1)
/// label = "lab link A"    # free text, at most 48 bytes of UTF-8
/// ```
/// The device stores a 96-byte binary blob (version 1, little-endian) with a CRC-32C.
public struct LinkConfiguration: Equatable, Sendable {
    /// The link the device serves.
    public var link: LinkID
    /// The node the device is attached to.
    public var localNode: NodeID
    /// Bytes per key unit.
    public var unitSize: Int
    /// Most units per key frame.
    public var frameUnits: Int
    /// Low-rate alarm threshold, bits per second (0 = off).
    public var minKeyRate: UInt32
    /// QBER alarm threshold, parts per million.
    public var qberAlarmPPM: UInt32
    /// Free text label.
    public var label: String

    /// Size of the binary form.
    public static let blobSize = 96
    static let magic: UInt32 = 0x4344_4B51  // "QKDC"
    static let maxLabelBytes = 48

    /// Creates a configuration; call ``validate()`` to check it.
    public init(
        link: LinkID, localNode: NodeID, unitSize: Int = 32, frameUnits: Int = 256, minKeyRate: UInt32 = 0,
        qberAlarmPPM: UInt32 = 50_000, label: String = ""
    ) {
        self.link = link
        self.localNode = localNode
        self.unitSize = unitSize
        self.frameUnits = frameUnits
        self.minKeyRate = minKeyRate
        self.qberAlarmPPM = qberAlarmPPM
        self.label = label
    }

    /// The peer node.
    public var peerNode: NodeID { link.peer(of: localNode) }

    /// Checks ranges; `line` is reported in errors (0 when not from a file).
    /// - Throws: ``LinkConfigurationError/invalidValue(field:line:reason:)``.
    public func validate(lines: [String: Int] = [:]) throws(LinkConfigurationError) {
        func bad(_ field: String, _ reason: String) -> LinkConfigurationError {
            .invalidValue(field: field, line: lines[field] ?? 0, reason: reason)
        }
        guard link.low != .none, link.low != link.high else { throw bad("link", "two different non-zero node IDs") }
        guard localNode == link.low || localNode == link.high else { throw bad("local-node", "must be one end of the link") }
        guard (1...4096).contains(unitSize) else { throw bad("unit-size", "must be 1...4096 bytes") }
        guard (1...1024).contains(frameUnits) else { throw bad("frame-units", "must be 1...1024") }
        guard qberAlarmPPM < 1_000_000 else { throw bad("qber-alarm", "must be a fraction in [0, 1)") }
        guard label.utf8.count <= Self.maxLabelBytes else { throw bad("label", "at most 48 bytes of UTF-8") }
        guard !label.utf8.contains(0) else { throw bad("label", "must not contain NUL") }
    }

    // MARK: text form

    private static let fields = ["link", "local-node", "unit-size", "frame-units", "min-key-rate", "qber-alarm", "label"]
    private static let required: Set<String> = ["link", "local-node"]

    /// Parses and validates the text form.
    /// - Throws: ``LinkConfigurationError`` naming the field and line at fault.
    public init(parsing text: String) throws(LinkConfigurationError) {
        var values: [String: (value: String, line: Int, quoted: Bool)] = [:]
        var lineNumber = 0
        // "\r\n" is one Character in Swift: splitting on "\n" alone would leave a CRLF file one long line.
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            guard let parsed = try Self.parseLine(Substring(rawLine), line: lineNumber) else { continue }
            guard Self.fields.contains(parsed.name) else { throw .unknownField(field: parsed.name, line: lineNumber) }
            guard values[parsed.name] == nil else { throw .duplicateField(field: parsed.name, line: lineNumber) }
            values[parsed.name] = (parsed.value, lineNumber, parsed.quoted)
        }
        for field in Self.fields where Self.required.contains(field) && values[field] == nil {
            throw .missingField(field: field)
        }
        func integer(_ field: String, _ range: ClosedRange<UInt64>, default value: UInt64) throws(LinkConfigurationError) -> UInt64 {
            guard let entry = values[field] else { return value }
            let digits = entry.value.replacingUnderscores()
            guard !entry.quoted, let number = UInt64(digits), range.contains(number) else {
                throw .invalidValue(field: field, line: entry.line, reason: "expected an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return number
        }
        let linkEntry = values["link"]!
        let ends = linkEntry.value.split(separator: "-", omittingEmptySubsequences: false)
        guard ends.count == 2, let a = UInt32(ends[0]), let b = UInt32(ends[1]), a != 0, b != 0, a != b else {
            throw .invalidValue(field: "link", line: linkEntry.line, reason: "expected two different non-zero node IDs, e.g. 3-7")
        }
        let local = try integer("local-node", 1...UInt64(UInt32.max), default: 0)
        var qber: UInt32 = 50_000
        if let entry = values["qber-alarm"] {
            guard !entry.quoted, let ppm = Self.parseFractionPPM(entry.value) else {
                throw .invalidValue(field: "qber-alarm", line: entry.line, reason: "expected a fraction in [0, 1), e.g. 0.05")
            }
            qber = ppm
        }
        var label = ""
        if let entry = values["label"] {
            guard entry.quoted else { throw .invalidValue(field: "label", line: entry.line, reason: "expected a quoted string") }
            label = entry.value
        }
        self.init(
            link: LinkID(NodeID(a), NodeID(b)), localNode: NodeID(UInt32(local)),
            unitSize: Int(try integer("unit-size", 1...4096, default: 32)),
            frameUnits: Int(try integer("frame-units", 1...1024, default: 256)),
            minKeyRate: UInt32(try integer("min-key-rate", 0...UInt64(UInt32.max), default: 0)),
            qberAlarmPPM: qber, label: label)
        try validate(lines: values.mapValues { $0.line })
    }

    /// The canonical text form (parses back to an equal configuration).
    public var text: String {
        let qber = "\(qberAlarmPPM / 1_000_000).\(String(String(qberAlarmPPM % 1_000_000 + 1_000_000).dropFirst()))"
        let escaped = label.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
        return """
            link = \(link.low.rawValue)-\(link.high.rawValue)
            local-node = \(localNode.rawValue)
            unit-size = \(unitSize)
            frame-units = \(frameUnits)
            min-key-rate = \(minKeyRate)
            qber-alarm = \(qber)
            label = "\(escaped)"

            """
    }

    private static func parseLine(_ line: Substring, line number: Int) throws(LinkConfigurationError)
        -> (name: String, value: String, quoted: Bool)?
    {
        var body = line
        if body.last == "\r" { body = body.dropLast() }
        guard let equals = body.firstIndex(of: "=") else {
            let trimmed = body.trimmed()
            if trimmed.isEmpty || trimmed.first == "#" { return nil }
            throw .syntax(line: number)
        }
        let name = body[..<equals].trimmed()
        if name.first == "#" { return nil }
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0 == "-" || $0.isNumber }) else { throw .syntax(line: number) }
        var rest = body[body.index(after: equals)...].trimmedLeading()
        if rest.first == "\"" {
            rest = rest.dropFirst()
            var value = ""
            var escaping = false
            while let c = rest.first {
                rest = rest.dropFirst()
                if escaping {
                    value.append(c)
                    escaping = false
                } else if c == "\\" {
                    escaping = true
                } else if c == "\"" {
                    let tail = rest.trimmed()
                    guard tail.isEmpty || tail.first == "#" else { throw .syntax(line: number) }
                    return (String(name), value, true)
                } else {
                    value.append(c)
                }
            }
            throw .invalidValue(field: String(name), line: number, reason: "unterminated quoted string")
        }
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        let value = rest.trimmed()
        guard !value.isEmpty else { throw .invalidValue(field: String(name), line: number, reason: "missing value") }
        return (String(name), String(value), false)
    }

    /// "0.05" → 50000 ppm; at most six decimals; must be < 1.
    private static func parseFractionPPM(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, parts[0] == "0" || (parts.count == 1 && parts[0] == "0") else { return nil }
        guard parts.count == 2 else { return 0 }
        let decimals = parts[1]
        guard !decimals.isEmpty, decimals.count <= 6, decimals.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt32(decimals + String(repeating: "0", count: 6 - decimals.count))
    }

    // MARK: binary form

    /// The 96-byte blob stored in the device.
    public var blob: [UInt8] {
        var writer = ByteWriter()
        writer.write(Self.magic)
        writer.write(UInt16(1))
        writer.write(UInt16(clamping: unitSize))
        writer.write(link.low.rawValue)
        writer.write(link.high.rawValue)
        writer.write(localNode.rawValue)
        writer.write(minKeyRate)
        writer.write(UInt16(clamping: frameUnits))
        writer.write(UInt16(0))
        writer.write(qberAlarmPPM)
        writer.writeText(label, length: Self.maxLabelBytes)
        writer.writeText("", length: 16)
        return writer.bytes
    }

    /// Decodes and validates a blob read from a device.
    /// - Throws: ``LinkConfigurationError/malformedBlob(reason:)`` or a validation error.
    public init(blob: [UInt8]) throws(LinkConfigurationError) {
        guard blob.count == Self.blobSize else { throw .malformedBlob(reason: "\(blob.count) bytes, expected 96") }
        let fields: (UInt32, UInt16, UInt16, UInt32, UInt32, UInt32, UInt32, UInt16, UInt32, String)? = blob.withUnsafeBytes { raw in
            var c = ByteCursor(raw)
            guard let magic = c.read(UInt32.self), let version = c.read(UInt16.self), let unit = c.read(UInt16.self),
                let low = c.read(UInt32.self), let high = c.read(UInt32.self), let local = c.read(UInt32.self),
                let rate = c.read(UInt32.self), let frame = c.read(UInt16.self), c.skip(2),
                let qber = c.read(UInt32.self), let label = c.readText(Self.maxLabelBytes)
            else { return nil }
            return (magic, version, unit, low, high, local, rate, frame, qber, label)
        }
        guard let f = fields, f.0 == Self.magic else { throw .malformedBlob(reason: "bad magic") }
        guard f.1 == 1 else { throw .malformedBlob(reason: "unsupported version \(f.1)") }
        self.init(
            link: LinkID(NodeID(f.3), NodeID(f.4)), localNode: NodeID(f.5), unitSize: Int(f.2), frameUnits: Int(f.7),
            minKeyRate: f.6, qberAlarmPPM: f.8, label: f.9)
        try validate()
    }
}

extension StringProtocol {
    fileprivate func trimmed() -> Substring {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return s
    }

    fileprivate func trimmedLeading() -> Substring {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        return s
    }

    fileprivate func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
