import AKRPEngine
import AKRPWire

/// Hex text to bytes: pairs of hex digits; spaces, newlines, ':' and a leading "0x" are ignored.
enum HexText {
    static func parse(_ text: String) throws(DecodeFailure) -> [UInt8] {
        var digits: [UInt8] = []
        var rest = Substring(text)
        if rest.hasPrefix("0x") || rest.hasPrefix("0X") { rest = rest.dropFirst(2) }
        for scalar in rest.unicodeScalars {
            switch scalar {
            case "0"..."9": digits.append(UInt8(scalar.value - 48))
            case "a"..."f": digits.append(UInt8(scalar.value - 87))
            case "A"..."F": digits.append(UInt8(scalar.value - 55))
            case " ", "\n", "\t", "\r", ":": continue
            default: throw DecodeFailure("not a hex digit: '\(scalar)'")
            }
        }
        guard !digits.isEmpty else { throw DecodeFailure("no bytes given") }
        guard digits.count % 2 == 0 else { throw DecodeFailure("odd number of hex digits (\(digits.count))") }
        return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }

    static func string(_ bytes: some Collection<UInt8>) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

/// A value of the decoded output, renderable as text or JSON.
enum FieldValue {
    case number(UInt64)
    case text(String)
    case list([UInt64])
    case object([(String, FieldValue)])
    case objects([[(String, FieldValue)]])

    var json: String {
        switch self {
        case .number(let n): "\(n)"
        case .text(let s): "\"" + s.unicodeScalars.map { c -> String in
                switch c {
                case "\"": "\\\""
                case "\\": "\\\\"
                case "\n": "\\n"
                default: c.value < 0x20 ? "\\u00" + (c.value < 16 ? "0" : "") + String(c.value, radix: 16) : String(c)
                }
            }.joined() + "\""
        case .list(let l): "[" + l.map(String.init).joined(separator: ",") + "]"
        case .object(let fields): "{" + fields.map { "\"\($0.0)\":\($0.1.json)" }.joined(separator: ",") + "}"
        case .objects(let list): "[" + list.map { FieldValue.object($0).json }.joined(separator: ",") + "]"
        }
    }

    var text: String {
        switch self {
        case .number(let n): "\(n)"
        case .text(let s): s
        case .list(let l): l.map(String.init).joined(separator: ">")
        case .object(let fields): fields.map { "\($0.0)=\($0.1.text)" }.joined(separator: " ")
        case .objects(let list): list.map { "{" + FieldValue.object($0).text + "}" }.joined(separator: " ")
        }
    }
}

/// One decoded frame: its name and fields in wire order.
struct DecodedFrame {
    var fields: [(String, FieldValue)]

    func json() -> String { FieldValue.object(fields).json }

    func text() -> String {
        fields.map { "\($0.0): \($0.1.text)" }.joined(separator: "\n")
    }
}

enum FrameDecoding {
    /// Decodes every frame of `input` (one or more, back to back).
    static func decodeAll(_ input: [UInt8], maximumFrameSize: Int, showKey: Bool = false) throws(DecodeFailure) -> [DecodedFrame] {
        var frames: [DecodedFrame] = []
        var offset = 0
        while offset < input.count {
            let rest = Array(input[offset...])
            let header: FrameHeader
            do throws(WireError) {
                header = try withBytes(rest) { b throws(WireError) in
                    try FrameHeader.parse(b, maximumFrameSize: maximumFrameSize)
                }
            } catch {
                throw DecodeFailure("frame \(frames.count + 1) at byte \(offset): \(error)")
            }
            guard rest.count >= header.frameLength else {
                throw DecodeFailure("frame \(frames.count + 1) at byte \(offset): \(WireError.truncated(needed: header.frameLength)), \(rest.count) given")
            }
            let frame = Array(rest[0..<header.frameLength])
            do throws(WireError) {
                frames.append(try decode(frame, header: header, showKey: showKey))
            } catch {
                throw DecodeFailure("frame \(frames.count + 1) at byte \(offset): \(error)")
            }
            offset += header.frameLength
        }
        return frames
    }

    /// One frame's fields; the key bytes of a key response only with `showKey`.
    static func decode(_ frame: [UInt8], header: FrameHeader, showKey: Bool = false) throws(WireError) -> DecodedFrame {
        var fields: [(String, FieldValue)] = [
            ("length", .number(UInt64(frame.count))),
            ("version", .number(UInt64(WireFormat.version))),
        ]
        switch header.frameClass {
        case .neighbour:
            let decoded = try withBytes(frame) { b throws(WireError) in try MessageCodec.decode(b) }
            let m = decoded.message
            fields.insert(("type", .text(kindName(m.kind))), at: 0)
            fields += [
                ("flags", .text("authenticated")),
                ("sequence", .number(m.sequence)),
                ("from", .number(UInt64(m.from.rawValue))),
                ("to", .number(UInt64(m.to.rawValue))),
                ("incarnation", .number(m.incarnation)),
                ("peerIncarnation", .number(m.peerIncarnation)),
            ]
            if MessageLayout.carriesRequest(m.kind) {
                fields.append(("request", .text(m.request.description)))
                fields.append(("branch", .number(UInt64(m.branch))))
            }
            if MessageLayout.carriesHop(m.kind) { fields.append(("hop", .number(UInt64(m.hop)))) }
            switch m.kind {
            case .hello, .resync: fields.append(("index", .number(m.index)))
            case .share:
                fields += [("size", .number(UInt64(m.size))), ("path", .list(pathNodes(m.path)))]
            case .delivered:
                fields.append(("path", .list(pathNodes(m.path))))
            case .reserve:
                fields += [
                    ("size", .number(UInt64(m.size))), ("time", .number(m.time)), ("windowEnd", .number(m.index)),
                    ("path", .list(pathNodes(m.path))), ("units", units(m.units)),
                ]
            case .confirm:
                fields += [("time", .number(m.time)), ("windowEnd", .number(m.index)), ("units", units(m.units))]
            case .fail:
                fields.append(("reason", .text(FailReason(rawValue: m.reason)?.description ?? "\(m.reason)")))
            case .abortReply:
                fields.append(("outcome", .text(outcomeName(m.reason))))
            case .commit:
                fields += [("shareMask", .number(UInt64(m.shareMask))), ("time", .number(m.time)), ("units", units(m.units))]
            case .linkState:
                fields += [
                    ("subject", .text(m.subject.description)), ("origin", .number(UInt64(m.request.source.rawValue))),
                    ("ttl", .number(UInt64(m.hop))), ("freeUnits", .number(m.index)),
                    ("rate", .number(UInt64(m.rate))), ("serial", .number(UInt64(m.serial))),
                ]
            default: break
            }
            if MessageLayout.carriesPayload(m.kind) {
                fields.append(("payloadLength", .number(UInt64(m.payloadLength))))
                fields.append(("payload", .text(HexText.string(frame[decoded.payloadRange]))))
            }
            fields.append(("tag", .text(HexText.string(frame[(frame.count - WireFormat.tagLength)...]))))
            fields.append(("tagVerified", .text("no (needs the link key)")))
        case .bundle:
            var kinds: [String] = []
            _ = try withBytes(frame) { b throws(WireError) in
                try MessageBundle.decode(b, header: header, payloadInto: nil) { kinds.append(kindName($0.message.kind)) }
            }
            fields.insert(("type", .text("bundle")), at: 0)
            fields += [
                ("flags", .text("authenticated")),
                ("sequence", .number(header.sequence)),
                ("from", .number(UInt64(header.sender.rawValue))),
                ("to", .number(UInt64(header.receiver.rawValue))),
                ("messages", .text(kinds.joined(separator: ","))),
                ("tag", .text(HexText.string(frame[(frame.count - WireFormat.tagLength)...]))),
                ("tagVerified", .text("no (needs the link key)")),
            ]
        case .control:
            let decoded = try withBytes(frame) { b throws(WireError) in try ControlCodec.decode(b) }
            let m = decoded.message
            fields.insert(("type", .text(m.kind.description)), at: 0)
            fields += [
                ("flags", .text("local")),
                ("correlation", .number(m.correlation)),
                ("from", .number(UInt64(m.from.rawValue))),
                ("to", .number(UInt64(m.to.rawValue))),
            ]
            switch m.kind {
            case .stateDumpRequest: fields.append(("offset", .number(UInt64(m.offset))))
            case .stateDumpResponse, .configurationChunk:
                fields += [("offset", .number(UInt64(m.offset))), ("totalLength", .number(UInt64(m.totalLength)))]
            case .statisticsRequest: fields.append(("page", .number(UInt64(m.page))))
            case .statisticsResponse:
                fields += [
                    ("page", .number(UInt64(m.page))), ("pageCount", .number(UInt64(m.pageCount))),
                    ("deliveredKeys", .number(m.totals.deliveredKeys)),
                    ("deliveredKeyBytes", .number(m.totals.deliveredKeyBytes)),
                    ("failedRequests", .number(m.totals.failedRequests)),
                    ("authenticationBytes", .number(m.totals.authenticationBytes)),
                ]
                var links: [[(String, FieldValue)]] = []
                for i in 0..<Int(m.linkCount) {
                    let s = m.links[i]
                    links.append([
                        ("link", .text(s.link.description)), ("available", .number(s.availableUnits)),
                        ("reserved", .number(s.reservedUnits)), ("consumed", .number(s.consumedUnits)),
                        ("discarded", .number(s.discardedUnits)), ("authenticationBytes", .number(s.authenticationBytes)),
                    ])
                }
                fields.append(("links", .objects(links)))
            case .keyRequest:
                fields += [("destination", .number(UInt64(m.destination.rawValue))), ("keyLength", .number(UInt64(m.keyLength)))]
            case .keyResponse:
                fields += [
                    ("status", .text(keyStatusName(m.status))),
                    ("request", .text(m.request.description)),
                ]
            case .configurationAck:
                fields += [("status", .text(configurationStatusName(m.status))), ("offset", .number(UInt64(m.offset)))]
            case .keyFetchRequest:
                fields.append(("request", .text(m.request.description)))
            case .peerPosition:
                fields += [("incarnation", .number(m.incarnation)), ("position", .number(m.position))]
            }
            if ControlCodec.carriesData(m.kind) {
                fields.append(("dataLength", .number(UInt64(m.dataLength))))
                if m.kind == .keyResponse && !showKey && !decoded.dataRange.isEmpty {
                    fields.append(("data", .text("redacted (\(decoded.dataRange.count) bytes of key; --show-key prints them)")))
                } else {
                    fields.append(("data", .text(HexText.string(frame[decoded.dataRange]))))
                }
            }
        }
        return DecodedFrame(fields: fields)
    }

    /// The name of a key response status: delivered, an engine failure reason, or the box's own reason.
    static func keyStatusName(_ status: UInt8) -> String {
        if status == 0 { return "delivered" }
        if let reason = FailReason(rawValue: status) { return reason.description }
        if let own = KeyResponseStatus(rawValue: status) { return own.description }
        return "\(status)"
    }

    /// `Array.withUnsafeBytes` rethrows untyped; this keeps the codec's typed error.
    static func withBytes<T>(
        _ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(WireError) -> T
    ) throws(WireError) -> T {
        var result: Result<T, WireError>?
        bytes.withUnsafeBytes { b in result = Result { () throws(WireError) -> T in try body(b) } }
        return try result!.get()
    }

    static func pathNodes(_ path: Path) -> [UInt64] {
        (0..<Int(path.nodeCount)).map { UInt64(path.nodes[$0]) }
    }

    static func units(_ runs: UnitRuns) -> FieldValue {
        .objects((0..<Int(runs.runCount)).map { [("start", .number(runs[$0].start)), ("count", .number(UInt64(runs[$0].count)))] })
    }

    static func kindName(_ kind: MessageKind) -> String {
        switch kind {
        case .hello: "hello"
        case .resync: "resync"
        case .reserve: "reserve"
        case .confirm: "confirm"
        case .fail: "fail"
        case .commit: "commit"
        case .share: "share"
        case .release: "release"
        case .abort: "abort"
        case .abortReply: "abort-reply"
        case .linkState: "link-state"
        case .delivered: "delivered"
        }
    }

    static func outcomeName(_ raw: UInt8) -> String {
        switch AbortOutcome(rawValue: raw) {
        case .released: "released"
        case .committed: "committed"
        case .unknown: "unknown"
        case nil: "\(raw)"
        }
    }

    static func configurationStatusName(_ raw: UInt8) -> String {
        switch ConfigurationStatus(rawValue: raw) {
        case .accepted: "accepted"
        case .complete: "complete"
        case .badOffset: "bad-offset"
        case .rejected: "rejected"
        case nil: "\(raw)"
        }
    }
}
