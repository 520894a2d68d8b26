/// The operation of an SMP packet (the low three bits of its first byte).
public enum SMPOperation: UInt8, Sendable {
    case read = 0
    case readResponse = 1
    case write = 2
    case writeResponse = 3

    /// The response operation to a request (op + 1), nil for a response.
    public var response: SMPOperation? {
        switch self {
        case .read: .readResponse
        case .write: .writeResponse
        case .readResponse, .writeResponse: nil
        }
    }
}

/// The 8-byte header of an SMP packet:
/// `[res:3 | version:2 | op:3] [flags] [length:16] [group:16] [sequence] [command]`, big-endian,
/// `length` counting the CBOR body that follows.
public struct SMPHeader: Sendable, Equatable {
    /// Size of the header in bytes.
    public static let size = 8

    /// Read or write request, or the response to one.
    public var operation: SMPOperation
    /// Protocol version: 0 (version 1 of MCUmgr's SMP, "legacy") or 1 (version 2, group error maps).
    public var version: UInt8
    /// The flags byte; not interpreted, echoed in the answer.
    public var flags: UInt8
    /// Length of the body in bytes.
    public var length: UInt16
    /// The command group (``SMPGroup``).
    public var group: UInt16
    /// The client's sequence number, echoed in the answer so it can match answers to requests.
    public var sequence: UInt8
    /// The command ID within the group.
    public var command: UInt8

    /// A header from its fields; `version` 1 is SMP version 2, `length` the body's length in bytes.
    public init(
        operation: SMPOperation, version: UInt8 = 1, flags: UInt8 = 0, length: UInt16 = 0, group: UInt16,
        sequence: UInt8, command: UInt8
    ) {
        self.operation = operation
        self.version = version
        self.flags = flags
        self.length = length
        self.group = group
        self.sequence = sequence
        self.command = command
    }

    /// Reads a header from the first 8 bytes; nil when fewer bytes are given or the operation is invalid.
    public init?(_ bytes: some RandomAccessCollection<UInt8>) {
        guard bytes.count >= Self.size else { return nil }
        var i = bytes.startIndex
        func next() -> UInt8 {
            defer { i = bytes.index(after: i) }
            return bytes[i]
        }
        let first = next()
        guard let op = SMPOperation(rawValue: first & 0x07) else { return nil }
        operation = op
        version = (first >> 3) & 0x03
        flags = next()
        length = UInt16(next()) << 8 | UInt16(next())
        group = UInt16(next()) << 8 | UInt16(next())
        sequence = next()
        command = next()
    }

    /// The 8 header bytes.
    public var bytes: [UInt8] {
        [
            (version & 0x03) << 3 | operation.rawValue, flags, UInt8(length >> 8), UInt8(length & 0xFF),
            UInt8(group >> 8), UInt8(group & 0xFF), sequence, command,
        ]
    }
}
