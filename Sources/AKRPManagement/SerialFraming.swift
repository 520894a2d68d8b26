/// The SMP serial transport ("SMP over console"): a packet travels as lines. The packet with a 2-byte
/// big-endian length in front (the length counts the packet and its CRC) and its CRC-16/XMODEM behind is
/// base64-encoded; the text is cut into lines of at most ``maximumLineLength`` bytes, the first starting
/// with `0x06 0x09`, the others with `0x04 0x14`, each ending with a newline.
public enum SerialFraming {
    /// Start bytes of a packet's first line.
    public static let packetStart: (UInt8, UInt8) = (0x06, 0x09)
    /// Start bytes of a continuation line.
    public static let continuationStart: (UInt8, UInt8) = (0x04, 0x14)
    /// Longest line the box sends, start bytes and newline included (MCUmgr's 127).
    public static let maximumLineLength = 127

    /// The lines carrying `packet`, concatenated.
    public static func encode(_ packet: [UInt8]) -> [UInt8] {
        let crc = CRC16.checksum(packet)
        let length = packet.count + 2
        var raw: [UInt8] = [UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)]
        raw += packet
        raw += [UInt8(crc >> 8), UInt8(crc & 0xFF)]
        let text = Base64.encode(raw)
        // Whole four-character groups per line: each line also decodes on its own.
        let perLine = (maximumLineLength - 3) / 4 * 4
        var out: [UInt8] = []
        out.reserveCapacity(text.count + (text.count / perLine + 1) * 3)
        var start = 0
        while start < text.count {
            let end = min(start + perLine, text.count)
            if start == 0 {
                out += [packetStart.0, packetStart.1]
            } else {
                out += [continuationStart.0, continuationStart.1]
            }
            out += text[start..<end]
            out.append(0x0A)
            start = end
        }
        return out
    }
}

/// Why the serial decoder dropped bytes.
public enum SerialFrameDrop: Sendable, Equatable, CustomStringConvertible {
    /// A line longer than the limit (discarded up to its newline).
    case lineTooLong
    /// A continuation line with no packet started.
    case continuationWithoutStart
    /// Text that is not base64.
    case badBase64
    /// A packet length below the minimum or above the limit.
    case badLength(Int)
    /// More bytes than the length announced.
    case overrun
    /// The CRC does not match.
    case badCRC
    /// A new packet started before the previous one was complete.
    case incomplete

    /// A short English message saying why bytes were dropped.
    public var description: String {
        switch self {
        case .lineTooLong: "line too long"
        case .continuationWithoutStart: "continuation line without a packet start"
        case .badBase64: "bad base64"
        case .badLength(let n): "bad packet length \(n)"
        case .overrun: "more bytes than the packet length"
        case .badCRC: "bad CRC"
        case .incomplete: "packet interrupted by a new one"
        }
    }
}

/// What the serial decoder found in the bytes fed to it.
public enum SerialFrameEvent: Sendable, Equatable {
    /// A whole packet (SMP header and body), CRC checked.
    case packet([UInt8])
    /// Bytes dropped, and why.
    case dropped(SerialFrameDrop)
}

/// Reassembles SMP packets from the bytes of a serial line (any split of the stream). Lines that do not
/// start with the SMP start bytes are console output and ignored. Storage is bounded: a line is at most
/// `maximumLineLength` bytes and a packet at most `maximumPacketSize` bytes, or it is dropped.
public struct SerialFrameDecoder: Sendable {
    /// Longest line accepted, in bytes, start bytes and newline included; longer SMP lines are dropped.
    public let maximumLineLength: Int
    /// Longest packet (header and body) accepted, in bytes; a longer announced length is dropped as `badLength`.
    public let maximumPacketSize: Int
    private var line: [UInt8] = []
    private var discardingLine = false
    /// Decoded bytes of the packet in progress (length field first), and base64 text not yet in whole groups.
    private var decoded: [UInt8] = []
    private var pendingText: [UInt8] = []
    private var inPacket = false

    /// - Parameters:
    ///   - maximumLineLength: longest line accepted, start bytes and newline included.
    ///   - maximumPacketSize: longest packet (header and body) accepted.
    public init(maximumLineLength: Int = 1024, maximumPacketSize: Int = 8192) {
        self.maximumLineLength = maximumLineLength
        self.maximumPacketSize = maximumPacketSize
        line.reserveCapacity(maximumLineLength)
    }

    /// Feeds bytes; returns the packets completed and the drops, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [SerialFrameEvent] {
        var events: [SerialFrameEvent] = []
        for b in bytes {
            if b == 0x0A {
                if discardingLine {
                    discardingLine = false
                } else {
                    lineComplete(into: &events)
                }
                line.removeAll(keepingCapacity: true)
                continue
            }
            if discardingLine { continue }
            if line.count >= maximumLineLength {
                let wasSMP = line.count >= 2 && isStart(line[0], line[1])
                line.removeAll(keepingCapacity: true)
                discardingLine = true
                if wasSMP {
                    resetPacket()
                    events.append(.dropped(.lineTooLong))
                }
                continue
            }
            line.append(b)
        }
        return events
    }

    private func isStart(_ a: UInt8, _ b: UInt8) -> Bool {
        (a, b) == SerialFraming.packetStart || (a, b) == SerialFraming.continuationStart
    }

    private mutating func resetPacket() {
        inPacket = false
        decoded.removeAll(keepingCapacity: true)
        pendingText.removeAll(keepingCapacity: true)
    }

    private mutating func lineComplete(into events: inout [SerialFrameEvent]) {
        guard line.count >= 2 else { return }
        var text = line[2...]
        if text.last == 0x0D { text = text.dropLast() }
        if (line[0], line[1]) == SerialFraming.packetStart {
            if inPacket { events.append(.dropped(.incomplete)) }
            resetPacket()
            inPacket = true
        } else if (line[0], line[1]) == SerialFraming.continuationStart {
            guard inPacket else {
                events.append(.dropped(.continuationWithoutStart))
                return
            }
        } else {
            return
        }
        pendingText += text
        let whole = pendingText.count / 4 * 4
        guard let bytes = Base64.decode(pendingText[0..<whole]) else {
            resetPacket()
            events.append(.dropped(.badBase64))
            return
        }
        pendingText.removeFirst(whole)
        decoded += bytes
        guard decoded.count >= 2 else { return }
        let length = Int(decoded[0]) << 8 | Int(decoded[1])
        guard length >= SMPHeader.size + 2, length <= maximumPacketSize + 2 else {
            resetPacket()
            events.append(.dropped(.badLength(length)))
            return
        }
        let total = length + 2
        if decoded.count < total {
            guard pendingText.isEmpty || decoded.count + 3 <= total else {
                resetPacket()
                events.append(.dropped(.overrun))
                return
            }
            return
        }
        guard decoded.count == total, pendingText.isEmpty else {
            resetPacket()
            events.append(.dropped(.overrun))
            return
        }
        let packet = Array(decoded[2..<(total - 2)])
        let crc = UInt16(decoded[total - 2]) << 8 | UInt16(decoded[total - 1])
        resetPacket()
        guard CRC16.checksum(packet) == crc else {
            events.append(.dropped(.badCRC))
            return
        }
        events.append(.packet(packet))
    }
}
