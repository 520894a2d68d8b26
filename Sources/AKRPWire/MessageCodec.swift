public import AKRPEngine

/// A neighbour frame decoded into an engine ``Message``.
public struct DecodedMessage: Sendable, Equatable {
    /// The message; `from`, `to` and `sequence` come from the header, fields its kind does not carry
    /// are zero.
    public var message: Message
    /// Where the key-bytes payload lies in the frame (empty for kinds without payload).
    public var payloadRange: Range<Int>
    /// Length of the whole frame, tag included, in bytes.
    public var frameLength: Int
}

/// Encodes and decodes AKRP protocol messages (the body of neighbour frames). Allocation-free: the
/// caller provides every buffer. Authentication is added by ``FrameSealer`` and checked by
/// ``FrameVerifier``; this type only writes the tag's space and never looks at it.
public enum MessageCodec {
    /// Bytes of the frame that encodes `message` with its payload, tag included.
    public static func frameLength(of message: Message) -> Int {
        WireFormat.headerLength + MessageLayout.bodyLength(of: message) + WireFormat.tagLength
    }

    /// Writes the header and body of `message` into `buffer` and returns the frame length including
    /// the tag; the tag's 16 bytes (at the end) are left for the sealer to fill.
    ///
    /// - Parameters:
    ///   - payload: the key bytes of a commit or share, exactly `message.payloadLength` bytes; empty
    ///     for other kinds.
    /// - Throws: `.invalidField`, `.invalidPath` for a message whose fields are out of range;
    ///   `.invalidField(.payloadLength)` when `payload` does not match; `.bufferTooSmall`.
    public static func encodeUnsealed(
        _ message: Message, payload: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer
    ) throws(WireError) -> Int {
        let kind = message.kind
        if MessageLayout.carriesPayload(kind) {
            guard payload.count == Int(message.payloadLength) else { throw .invalidField(.payloadLength) }
        } else {
            guard payload.isEmpty, message.payloadLength == 0 else { throw .invalidField(.payloadLength) }
        }
        guard message.from != .none else { throw .invalidField(.sender) }
        guard message.to != .none, message.to != message.from else { throw .invalidField(.receiver) }
        try MessageLayout.check(message)
        let bodyLength = MessageLayout.bodyLength(of: message)
        let total = WireFormat.headerLength + bodyLength + WireFormat.tagLength
        guard buffer.count >= total else { throw .bufferTooSmall(needed: total) }

        FrameHeader(
            frameClass: .neighbour(kind), bodyLength: bodyLength, sequence: message.sequence,
            sender: message.from, receiver: message.to
        ).write(into: buffer)
        var w = ByteWriter(buffer, at: WireFormat.headerLength)
        w.write(message.incarnation)
        w.write(message.peerIncarnation)
        if MessageLayout.carriesRequest(kind) {
            w.write(message.request.source.rawValue)
            w.write(message.request.serial)
            w.write(message.branch)
            if MessageLayout.carriesHop(kind) { w.write(message.hop) }
        }
        switch kind {
        case .release, .abort:
            break
        case .hello, .resync:
            w.write(message.index)
        case .delivered:
            w.write(message.reason)
            writePath(message.path, &w)
        case .reserve:
            w.write(message.size)
            w.write(message.time)
            w.write(message.index)
            writePath(message.path, &w)
            writeUnits(message.units, &w)
        case .confirm:
            w.write(message.time)
            w.write(message.index)
            writeUnits(message.units, &w)
        case .fail, .abortReply:
            w.write(message.reason)
        case .commit:
            w.write(message.reason)
            w.write(message.shareMask)
            w.write(message.time)
            writeUnits(message.units, &w)
            w.write(message.payloadLength)
            w.write(bytes: payload)
        case .share:
            w.write(message.size)
            writePath(message.path, &w)
            w.write(message.payloadLength)
            w.write(bytes: payload)
        case .linkState:
            w.write(message.subject.low.rawValue)
            w.write(message.subject.high.rawValue)
            w.write(message.request.source.rawValue)
            w.write(message.hop)
            w.write(message.index)
            w.write(message.rate)
            w.write(message.serial)
        }
        precondition(w.position == WireFormat.headerLength + bodyLength, "body length table out of date")
        return total
    }

    /// Decodes one neighbour frame that occupies `frame` exactly. The tag is *not* checked: use
    /// ``FrameVerifier/open(_:payloadInto:keys:)`` for frames from the network.
    ///
    /// - Parameters:
    ///   - payloadInto: where to copy a commit's or share's key bytes; `nil` to leave them in the frame
    ///     (see ``DecodedMessage/payloadRange``).
    ///   - maximumFrameSize: frames declaring more bytes are rejected before anything else is read.
    /// - Throws: every header error of ``FrameHeader/parse(_:maximumFrameSize:)``; `.unknownType` for a
    ///   control frame; `.truncated`, `.trailingBytes` when `frame` is not exactly one frame;
    ///   `.bodyTooShort`, `.bodyTooLong`, `.invalidField`, `.invalidPath`, `.invalidUnits` for a bad body;
    ///   `.bufferTooSmall` when `payloadInto` cannot hold the payload.
    public static func decode(
        _ frame: UnsafeRawBufferPointer, payloadInto: UnsafeMutableRawBufferPointer? = nil,
        maximumFrameSize: Int = WireFormat.defaultMaximumFrameSize
    ) throws(WireError) -> DecodedMessage {
        let header = try FrameHeader.parse(frame, maximumFrameSize: maximumFrameSize)
        guard case .neighbour(let kind) = header.frameClass else { throw .unknownType(header.type) }
        try checkExactLength(frame, header)
        return try decodeBody(frame, header: header, kind: kind, payloadInto: payloadInto)
    }

    /// Rejects input that is shorter or longer than the frame its header declares.
    @inline(__always)
    static func checkExactLength(_ frame: UnsafeRawBufferPointer, _ header: FrameHeader) throws(WireError) {
        let length = header.frameLength
        guard frame.count >= length else { throw .truncated(needed: length) }
        guard frame.count == length else { throw .trailingBytes(frame.count - length) }
    }

    /// Decodes the body of a frame whose header has been parsed and whose length has been checked.
    @inline(__always)
    static func decodeBody(
        _ frame: UnsafeRawBufferPointer, header: FrameHeader, kind: MessageKind,
        payloadInto: UnsafeMutableRawBufferPointer?
    ) throws(WireError) -> DecodedMessage {
        let bodyEnd = WireFormat.headerLength + header.bodyLength
        var r = ByteReader(frame, from: WireFormat.headerLength, to: bodyEnd)
        var m = Message(kind: kind, from: header.sender, to: header.receiver)
        m.sequence = header.sequence
        var payloadRange = bodyEnd..<bodyEnd

        guard let incarnation = r.readUInt64() else { throw .bodyTooShort(.incarnation) }
        guard let peerIncarnation = r.readUInt64() else { throw .bodyTooShort(.peerIncarnation) }
        m.incarnation = incarnation
        m.peerIncarnation = peerIncarnation
        if MessageLayout.carriesRequest(kind) {
            guard let source = r.readUInt32(), let serial = r.readUInt32() else { throw .bodyTooShort(.request) }
            m.request = RequestID(source: NodeID(source), serial: serial)
            guard let branch = r.readUInt8() else { throw .bodyTooShort(.branch) }
            m.branch = branch
            if MessageLayout.carriesHop(kind) {
                guard let hop = r.readUInt8() else { throw .bodyTooShort(.hop) }
                m.hop = hop
            }
        }
        switch kind {
        case .release, .abort:
            break
        case .hello, .resync:
            guard let index = r.readUInt64() else { throw .bodyTooShort(.index) }
            m.index = index
        case .delivered:
            guard let flags = r.readUInt8() else { throw .bodyTooShort(.reason) }
            m.reason = flags
            m.path = try readPath(&r)
        case .reserve:
            guard let size = r.readUInt16() else { throw .bodyTooShort(.size) }
            guard let time = r.readUInt64() else { throw .bodyTooShort(.time) }
            guard let index = r.readUInt64() else { throw .bodyTooShort(.index) }
            m.size = size
            m.time = time
            m.index = index
            m.path = try readPath(&r)
            m.units = try readUnits(&r)
        case .confirm:
            guard let time = r.readUInt64() else { throw .bodyTooShort(.time) }
            guard let index = r.readUInt64() else { throw .bodyTooShort(.index) }
            m.time = time
            m.index = index
            m.units = try readUnits(&r)
        case .fail, .abortReply:
            guard let reason = r.readUInt8() else { throw .bodyTooShort(.reason) }
            m.reason = reason
        case .commit:
            guard let flags = r.readUInt8() else { throw .bodyTooShort(.reason) }
            m.reason = flags
            guard let mask = r.readUInt32() else { throw .bodyTooShort(.shareMask) }
            guard let time = r.readUInt64() else { throw .bodyTooShort(.time) }
            m.shareMask = mask
            m.time = time
            m.units = try readUnits(&r)
            payloadRange = try readPayload(&r, into: &m)
        case .share:
            guard let size = r.readUInt16() else { throw .bodyTooShort(.size) }
            m.size = size
            m.path = try readPath(&r)
            payloadRange = try readPayload(&r, into: &m)
        case .linkState:
            guard let low = r.readUInt32(), let high = r.readUInt32() else { throw .bodyTooShort(.subject) }
            // The wire names the ends in order; LinkID would silently reorder a swapped pair.
            guard low != 0, low < high else { throw .invalidField(.subject) }
            m.subject = LinkID(NodeID(low), NodeID(high))
            guard let origin = r.readUInt32() else { throw .bodyTooShort(.request) }
            guard let ttl = r.readUInt8() else { throw .bodyTooShort(.hop) }
            m.request = RequestID(source: NodeID(origin), serial: 0)
            m.hop = ttl
            guard let index = r.readUInt64() else { throw .bodyTooShort(.index) }
            guard let rate = r.readUInt32() else { throw .bodyTooShort(.rate) }
            guard let serial = r.readUInt32() else { throw .bodyTooShort(.serial) }
            m.index = index
            m.rate = rate
            m.serial = serial
        }
        guard r.remaining == 0 else { throw .bodyTooLong(r.remaining) }
        try MessageLayout.check(m)
        if let out = payloadInto, !payloadRange.isEmpty {
            guard out.count >= payloadRange.count else { throw .bufferTooSmall(needed: payloadRange.count) }
            if let to = out.baseAddress, let from = frame.baseAddress {
                to.copyMemory(from: from + payloadRange.lowerBound, byteCount: payloadRange.count)
            }
        }
        return DecodedMessage(message: m, payloadRange: payloadRange, frameLength: header.frameLength)
    }

    @inline(__always)
    static func readPayload(_ r: inout ByteReader, into m: inout Message) throws(WireError) -> Range<Int> {
        guard let length = r.readUInt16() else { throw .bodyTooShort(.payloadLength) }
        // Capped before use: the length must fit in what is left of the body.
        guard let start = r.skip(Int(length)) else { throw .bodyTooShort(.payload) }
        m.payloadLength = length
        return start..<(start + Int(length))
    }

    @inline(__always)
    static func writePath(_ path: Path, _ w: inout ByteWriter) {
        w.write(path.nodeCount)
        var i = 0
        while i < Int(path.nodeCount) {
            w.write(path.nodes[i])
            i += 1
        }
    }

    @inline(__always)
    static func readPath(_ r: inout ByteReader) throws(WireError) -> Path {
        guard let count = r.readUInt8() else { throw .bodyTooShort(.path) }
        guard count >= 2 else { throw .invalidPath(.tooShort) }
        guard Int(count) <= Path.maxHops + 1 else { throw .invalidPath(.tooLong) }
        guard let start = r.skip(4 * Int(count)) else { throw .bodyTooShort(.path) }
        do throws(PathError) {
            return try Path(WireNodeList(bytes: r.bytes, start: start, count: Int(count)))
        } catch {
            throw .invalidPath(error)
        }
    }

    @inline(__always)
    static func writeUnits(_ units: UnitRuns, _ w: inout ByteWriter) {
        w.write(units.runCount)
        var i = 0
        while i < Int(units.runCount) {
            w.write(units[i].start)
            w.write(units[i].count)
            i += 1
        }
    }

    @inline(__always)
    static func readUnits(_ r: inout ByteReader) throws(WireError) -> UnitRuns {
        guard let count = r.readUInt8() else { throw .bodyTooShort(.units) }
        guard count >= 1, Int(count) <= UnitRuns.capacity else { throw .invalidField(.units) }
        var units = UnitRuns()
        var i = 0
        while i < Int(count) {
            guard let start = r.readUInt64(), let length = r.readUInt32() else { throw .bodyTooShort(.units) }
            do throws(UnitRunsError) {
                try units.append(run: UnitRun(start: start, count: length))
            } catch {
                throw .invalidUnits(error)
            }
            i += 1
        }
        // Adjacent runs merge on append: such an encoding is not canonical and is refused, so that
        // every message has exactly one encoding.
        guard Int(units.runCount) == Int(count) else { throw .invalidField(.units) }
        return units
    }
}

/// The node list of an encoded path, read in place (no copy, no allocation).
struct WireNodeList: Sequence, IteratorProtocol {
    let bytes: UnsafeRawBufferPointer
    var offset: Int
    let end: Int

    init(bytes: UnsafeRawBufferPointer, start: Int, count: Int) {
        self.bytes = bytes
        self.offset = start
        self.end = start + 4 * count
    }

    mutating func next() -> NodeID? {
        guard offset + 4 <= end else { return nil }
        defer { offset += 4 }
        return NodeID(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
    }
}
