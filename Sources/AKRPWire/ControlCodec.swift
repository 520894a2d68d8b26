import AKRPEngine

/// A control frame decoded into a ``ControlMessage``.
public struct DecodedControl: Sendable, Equatable {
    /// The message; `from`, `to` and `correlation` come from the header.
    public var message: ControlMessage
    /// Where the data bytes lie in the frame (empty when the kind carries none).
    public var dataRange: Range<Int>
    /// Length of the whole frame in bytes.
    public var frameLength: Int
}

/// Encodes and decodes control frames (companion tool ⇄ box, local socket, never authenticated).
/// Allocation-free like ``MessageCodec``.
public enum ControlCodec {
    /// Whether `kind` carries a data buffer.
    public static func carriesData(_ kind: ControlKind) -> Bool {
        switch kind {
        case .stateDumpResponse, .keyResponse, .configurationChunk: true
        default: false
        }
    }

    /// Length of the body of `message`, data included.
    static func bodyLength(of message: ControlMessage) -> Int {
        switch message.kind {
        case .stateDumpRequest: 4
        case .stateDumpResponse: 4 + 4 + 2 + Int(message.dataLength)
        case .statisticsRequest: 2
        case .statisticsResponse:
            2 + 2 + NodeStatistics.encodedLength + 1 + Int(message.linkCount) * LinkStatistics.encodedLength
        case .keyRequest: 4 + 2
        case .keyResponse: 1 + 8 + 2 + Int(message.dataLength)
        case .configurationChunk: 4 + 4 + 2 + Int(message.dataLength)
        case .configurationAck: 1 + 4
        case .keyFetchRequest: 8
        case .peerPosition: 16
        }
    }

    /// Bytes of the frame that encodes `message` with its data.
    public static func frameLength(of message: ControlMessage) -> Int {
        WireFormat.headerLength + bodyLength(of: message)
    }

    /// Checks the fields `message` carries.
    static func check(_ m: ControlMessage) throws(WireError) {
        guard Int(m.dataLength) <= ControlMessage.maximumDataLength else { throw .invalidField(.dataLength) }
        switch m.kind {
        case .stateDumpRequest, .statisticsRequest:
            break
        case .stateDumpResponse:
            guard UInt64(m.offset) + UInt64(m.dataLength) <= UInt64(m.totalLength) else {
                throw .invalidField(.dataLength)
            }
        case .statisticsResponse:
            guard m.pageCount >= 1, m.page < m.pageCount else { throw .invalidField(.section) }
            guard Int(m.linkCount) <= ControlMessage.maximumLinks else { throw .invalidField(.linkCount) }
            var i = 0
            while i < Int(m.linkCount) {
                let link = m.links[i].link
                guard link.low != .none, link.low < link.high else { throw .invalidField(.statistics) }
                i += 1
            }
        case .keyRequest:
            guard m.destination != .none else { throw .invalidField(.destination) }
            guard m.keyLength >= 1, Int(m.keyLength) <= ControlMessage.maximumDataLength else {
                throw .invalidField(.keyLength)
            }
        case .keyResponse:
            if m.status == 0 {
                guard m.request.source != .none else { throw .invalidField(.request) }
                guard m.dataLength >= 1 else { throw .invalidField(.dataLength) }
            } else {
                guard FailReason(rawValue: m.status) != nil || KeyResponseStatus(rawValue: m.status) != nil else {
                    throw .invalidField(.status)
                }
                guard m.dataLength == 0 else { throw .invalidField(.dataLength) }
            }
        case .configurationChunk:
            guard m.dataLength >= 1,
                UInt64(m.offset) + UInt64(m.dataLength) <= UInt64(m.totalLength)
            else { throw .invalidField(.dataLength) }
        case .configurationAck:
            guard ConfigurationStatus(rawValue: m.status) != nil else { throw .invalidField(.status) }
        case .keyFetchRequest:
            guard m.request.source != .none else { throw .invalidField(.request) }
        case .peerPosition:
            guard m.from != .none, m.to != .none, m.from != m.to, m.incarnation != 0 else { throw .invalidField(.sender) }
        }
    }

    /// Writes the frame of `message` into `buffer` and returns its length.
    /// - Parameter data: exactly `message.dataLength` bytes for kinds that carry data, else empty.
    /// - Throws: `.invalidField` for fields out of range or a `data` that does not match;
    ///   `.bufferTooSmall`.
    public static func encode(
        _ message: ControlMessage, data: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer
    ) throws(WireError) -> Int {
        if carriesData(message.kind) {
            guard data.count == Int(message.dataLength) else { throw .invalidField(.dataLength) }
        } else {
            guard data.isEmpty, message.dataLength == 0 else { throw .invalidField(.dataLength) }
        }
        try check(message)
        let bodyLength = bodyLength(of: message)
        let total = WireFormat.headerLength + bodyLength
        guard buffer.count >= total else { throw .bufferTooSmall(needed: total) }
        FrameHeader(
            frameClass: .control(message.kind), bodyLength: bodyLength, sequence: message.correlation,
            sender: message.from, receiver: message.to
        ).write(into: buffer)
        var w = ByteWriter(buffer, at: WireFormat.headerLength)
        switch message.kind {
        case .stateDumpRequest:
            w.write(message.offset)
        case .stateDumpResponse:
            w.write(message.offset)
            w.write(message.totalLength)
            w.write(message.dataLength)
            w.write(bytes: data)
        case .statisticsRequest:
            w.write(message.page)
        case .statisticsResponse:
            w.write(message.page)
            w.write(message.pageCount)
            w.write(message.totals.deliveredKeys)
            w.write(message.totals.deliveredKeyBytes)
            w.write(message.totals.failedRequests)
            w.write(message.totals.authenticationBytes)
            w.write(message.linkCount)
            var i = 0
            while i < Int(message.linkCount) {
                let s = message.links[i]
                w.write(s.link.low.rawValue)
                w.write(s.link.high.rawValue)
                w.write(s.availableUnits)
                w.write(s.reservedUnits)
                w.write(s.consumedUnits)
                w.write(s.discardedUnits)
                w.write(s.authenticationBytes)
                i += 1
            }
        case .keyRequest:
            w.write(message.destination.rawValue)
            w.write(message.keyLength)
        case .keyResponse:
            w.write(message.status)
            w.write(message.request.source.rawValue)
            w.write(message.request.serial)
            w.write(message.dataLength)
            w.write(bytes: data)
        case .configurationChunk:
            w.write(message.totalLength)
            w.write(message.offset)
            w.write(message.dataLength)
            w.write(bytes: data)
        case .configurationAck:
            w.write(message.status)
            w.write(message.offset)
        case .keyFetchRequest:
            w.write(message.request.source.rawValue)
            w.write(message.request.serial)
        case .peerPosition:
            w.write(message.incarnation)
            w.write(message.position)
        }
        precondition(w.position == total, "control body length table out of date")
        return total
    }

    /// Decodes one control frame that occupies `frame` exactly.
    /// - Parameter dataInto: where to copy the data bytes; `nil` to leave them in the frame.
    /// - Throws: header errors; `.unknownType` for a neighbour frame; `.truncated`, `.trailingBytes`,
    ///   `.bodyTooShort`, `.bodyTooLong`, `.invalidField`; `.bufferTooSmall` for `dataInto`.
    public static func decode(
        _ frame: UnsafeRawBufferPointer, dataInto: UnsafeMutableRawBufferPointer? = nil,
        maximumFrameSize: Int = WireFormat.defaultMaximumFrameSize
    ) throws(WireError) -> DecodedControl {
        let header = try FrameHeader.parse(frame, maximumFrameSize: maximumFrameSize)
        guard case .control(let kind) = header.frameClass else { throw .unknownType(header.type) }
        try MessageCodec.checkExactLength(frame, header)
        let bodyEnd = WireFormat.headerLength + header.bodyLength
        var r = ByteReader(frame, from: WireFormat.headerLength, to: bodyEnd)
        var m = ControlMessage(kind: kind, from: header.sender, to: header.receiver, correlation: header.sequence)
        var dataRange = bodyEnd..<bodyEnd
        switch kind {
        case .stateDumpRequest:
            guard let offset = r.readUInt32() else { throw .bodyTooShort(.offset) }
            m.offset = offset
        case .stateDumpResponse:
            guard let offset = r.readUInt32() else { throw .bodyTooShort(.offset) }
            guard let total = r.readUInt32() else { throw .bodyTooShort(.totalLength) }
            m.offset = offset
            m.totalLength = total
            dataRange = try readData(&r, into: &m)
        case .statisticsRequest:
            guard let page = r.readUInt16() else { throw .bodyTooShort(.section) }
            m.page = page
        case .statisticsResponse:
            guard let page = r.readUInt16(), let pageCount = r.readUInt16() else { throw .bodyTooShort(.section) }
            m.page = page
            m.pageCount = pageCount
            guard let delivered = r.readUInt64(), let deliveredBytes = r.readUInt64(),
                let failed = r.readUInt64(), let authentication = r.readUInt64()
            else { throw .bodyTooShort(.statistics) }
            m.totals.deliveredKeys = delivered
            m.totals.deliveredKeyBytes = deliveredBytes
            m.totals.failedRequests = failed
            m.totals.authenticationBytes = authentication
            guard let count = r.readUInt8() else { throw .bodyTooShort(.linkCount) }
            guard Int(count) <= ControlMessage.maximumLinks else { throw .invalidField(.linkCount) }
            guard r.remaining >= Int(count) * LinkStatistics.encodedLength else { throw .bodyTooShort(.statistics) }
            var i = 0
            while i < Int(count) {
                guard let low = r.readUInt32(), let high = r.readUInt32(), let available = r.readUInt64(),
                    let reserved = r.readUInt64(), let consumed = r.readUInt64(), let discarded = r.readUInt64(),
                    let authentication = r.readUInt64()
                else { throw .bodyTooShort(.statistics) }
                // The wire names the ends in order; LinkID would silently reorder a swapped pair.
                guard low != 0, low < high else { throw .invalidField(.statistics) }
                try m.appendLink(
                    LinkStatistics(
                        link: LinkID(NodeID(low), NodeID(high)), availableUnits: available,
                        reservedUnits: reserved, consumedUnits: consumed, discardedUnits: discarded,
                        authenticationBytes: authentication))
                i += 1
            }
        case .keyRequest:
            guard let destination = r.readUInt32() else { throw .bodyTooShort(.destination) }
            guard let length = r.readUInt16() else { throw .bodyTooShort(.keyLength) }
            m.destination = NodeID(destination)
            m.keyLength = length
        case .keyResponse:
            guard let status = r.readUInt8() else { throw .bodyTooShort(.status) }
            guard let source = r.readUInt32(), let serial = r.readUInt32() else { throw .bodyTooShort(.request) }
            m.status = status
            m.request = RequestID(source: NodeID(source), serial: serial)
            dataRange = try readData(&r, into: &m)
            m.keyLength = m.dataLength
        case .configurationChunk:
            guard let total = r.readUInt32() else { throw .bodyTooShort(.totalLength) }
            guard let offset = r.readUInt32() else { throw .bodyTooShort(.offset) }
            m.totalLength = total
            m.offset = offset
            dataRange = try readData(&r, into: &m)
        case .configurationAck:
            guard let status = r.readUInt8() else { throw .bodyTooShort(.status) }
            guard let offset = r.readUInt32() else { throw .bodyTooShort(.offset) }
            m.status = status
            m.offset = offset
        case .keyFetchRequest:
            guard let source = r.readUInt32(), let serial = r.readUInt32() else { throw .bodyTooShort(.request) }
            m.request = RequestID(source: NodeID(source), serial: serial)
        case .peerPosition:
            guard let incarnation = r.readUInt64(), let position = r.readUInt64() else { throw .bodyTooShort(.index) }
            m.incarnation = incarnation
            m.position = position
        }
        guard r.remaining == 0 else { throw .bodyTooLong(r.remaining) }
        try check(m)
        if let out = dataInto, !dataRange.isEmpty {
            guard out.count >= dataRange.count else { throw .bufferTooSmall(needed: dataRange.count) }
            if let to = out.baseAddress, let from = frame.baseAddress {
                to.copyMemory(from: from + dataRange.lowerBound, byteCount: dataRange.count)
            }
        }
        return DecodedControl(message: m, dataRange: dataRange, frameLength: header.frameLength)
    }

    static func readData(_ r: inout ByteReader, into m: inout ControlMessage) throws(WireError) -> Range<Int> {
        guard let length = r.readUInt16() else { throw .bodyTooShort(.dataLength) }
        guard Int(length) <= ControlMessage.maximumDataLength else { throw .invalidField(.dataLength) }
        guard let start = r.skip(Int(length)) else { throw .bodyTooShort(.data) }
        m.dataLength = length
        return start..<(start + Int(length))
    }
}
