public import AKRPEngine

/// Constants of the AKRP wire format, version 1. See `docs/WIRE.md`.
public enum WireFormat {
    /// The first two bytes of every frame: ASCII "AK".
    public static let magic: UInt16 = 0x414B
    /// The format version this build encodes and the only one it decodes.
    public static let version: UInt8 = 1
    /// Bytes of the fixed frame header.
    public static let headerLength = 28
    /// Bytes of the authentication tag that ends every neighbour frame.
    public static let tagLength = 16
    /// Default cap on a whole frame (header + body + tag), in bytes: a commit with the largest
    /// payload (65,535 bytes) fits.
    public static let defaultMaximumFrameSize = 66_560
    /// The smallest maximum frame size a decoder accepts: a header and a tag.
    public static let minimumMaximumFrameSize = headerLength + tagLength
}

/// The flags byte of a frame header.
public struct FrameFlags: OptionSet, Sendable, Hashable {
    /// The flags byte as on the wire.
    public var rawValue: UInt8
    /// Flags from their wire byte (unknown bits are kept, and refused by the decoder).
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The frame ends with a 16-byte Wegman–Carter tag (every neighbour frame).
    public static let authenticated = FrameFlags(rawValue: 0x01)
    /// The frame travels on the box's local control socket and carries no tag (every control frame).
    public static let local = FrameFlags(rawValue: 0x02)
    /// Every bit this version defines; the others must be zero.
    public static let known: FrameFlags = [.authenticated, .local]
}

/// The class of a frame's message, decided by its type byte.
public enum FrameClass: Sendable, Equatable {
    /// An AKRP protocol message between neighbouring boxes (types 1…12, the ``MessageKind`` values).
    case neighbour(MessageKind)
    /// A control message between the companion tool and a box (types 0x40…0x49).
    case control(ControlKind)
    /// Several protocol messages to one neighbour in one authenticated frame (type 0x20, docs/WIRE.md
    /// §4.7): the body is a sequence of complete neighbour frames without their own tags' meaning.
    case bundle

    /// The type byte of a bundle.
    public static let bundleType: UInt8 = 0x20

    /// The class of type byte `type`.
    /// - Throws: `.unknownType` when the byte names no message.
    public init(type: UInt8) throws(WireError) {
        if let kind = MessageKind(rawValue: type) {
            self = .neighbour(kind)
        } else if let kind = ControlKind(rawValue: type) {
            self = .control(kind)
        } else if type == Self.bundleType {
            self = .bundle
        } else {
            throw .unknownType(type)
        }
    }

    /// The flags a frame of this class must carry, exactly.
    public var requiredFlags: FrameFlags {
        switch self {
        case .neighbour, .bundle: .authenticated
        case .control: .local
        }
    }
}

/// The fixed 28-byte header that starts every frame (all integers big-endian):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 2 | magic `0x414B` |
/// | 2 | 1 | version (1) |
/// | 3 | 1 | message type |
/// | 4 | 1 | flags |
/// | 5 | 3 | reserved, zero |
/// | 8 | 4 | body length |
/// | 12 | 8 | sequence number (per directed link) |
/// | 20 | 4 | sender node |
/// | 24 | 4 | receiver node |
public struct FrameHeader: Sendable, Equatable {
    /// The message class and kind.
    public var frameClass: FrameClass
    /// The flags byte.
    public var flags: FrameFlags
    /// Length of the body that follows the header, in bytes (the tag is not included).
    public var bodyLength: Int
    /// The per-directed-link sequence number (neighbour frames) or request correlation number (control).
    public var sequence: UInt64
    /// Sending node (`.none` for the companion tool).
    public var sender: NodeID
    /// Receiving node (`.none` for the companion tool).
    public var receiver: NodeID

    /// Creates a header.
    public init(
        frameClass: FrameClass, bodyLength: Int, sequence: UInt64, sender: NodeID, receiver: NodeID
    ) {
        self.frameClass = frameClass
        self.flags = frameClass.requiredFlags
        self.bodyLength = bodyLength
        self.sequence = sequence
        self.sender = sender
        self.receiver = receiver
    }

    /// The type byte.
    public var type: UInt8 {
        switch frameClass {
        case .neighbour(let kind): kind.rawValue
        case .control(let kind): kind.rawValue
        case .bundle: FrameClass.bundleType
        }
    }

    /// Length of the tag that follows the body: 16 for authenticated frames, else 0.
    public var tagLength: Int { flags.contains(.authenticated) ? WireFormat.tagLength : 0 }

    /// Length of the whole frame: header, body and tag.
    public var frameLength: Int { WireFormat.headerLength + bodyLength + tagLength }

    /// Parses and checks the header at the start of `bytes`, which must hold at least
    /// ``WireFormat/headerLength`` bytes. The body is not read.
    ///
    /// The length is checked against `maximumFrameSize` here, before anyone buffers toward it.
    /// - Throws: `.truncated` when fewer than 28 bytes are given; `.badMagic`, `.unsupportedVersion`,
    ///   `.unknownType`, `.invalidFlags`, `.invalidField(.reserved)`, `.frameTooLarge`, and
    ///   `.invalidField(.sender/.receiver)` for a neighbour frame whose nodes are zero or equal.
    public static func parse(
        _ bytes: UnsafeRawBufferPointer, maximumFrameSize: Int = WireFormat.defaultMaximumFrameSize
    ) throws(WireError) -> FrameHeader {
        var reader = ByteReader(bytes)
        guard bytes.count >= WireFormat.headerLength,
            let magic = reader.readUInt16(),
            let version = reader.readUInt8(),
            let type = reader.readUInt8(),
            let flagBits = reader.readUInt8(),
            let reserved0 = reader.readUInt8(),
            let reserved1 = reader.readUInt16(),
            let length = reader.readUInt32(),
            let sequence = reader.readUInt64(),
            let sender = reader.readUInt32(),
            let receiver = reader.readUInt32()
        else { throw .truncated(needed: WireFormat.headerLength) }
        guard magic == WireFormat.magic else { throw .badMagic }
        guard version == WireFormat.version else { throw .unsupportedVersion(version) }
        let frameClass = try FrameClass(type: type)
        let flags = FrameFlags(rawValue: flagBits)
        guard flags == frameClass.requiredFlags else { throw .invalidFlags(flagBits) }
        guard reserved0 == 0, reserved1 == 0 else { throw .invalidField(.reserved) }
        // Compare in 64 bits: a 32-bit length never overflows here, whatever the platform.
        let total = UInt64(length) + UInt64(WireFormat.headerLength) + UInt64(
            flags.contains(.authenticated) ? WireFormat.tagLength : 0)
        guard total <= UInt64(max(maximumFrameSize, 0)) else {
            throw .frameTooLarge(total > UInt64(Int.max) ? Int.max : Int(total))
        }
        if frameClass.requiredFlags == .authenticated {  // neighbour frames and bundles
            guard sender != 0 else { throw .invalidField(.sender) }
            guard receiver != 0, receiver != sender else { throw .invalidField(.receiver) }
        }
        var header = FrameHeader(
            frameClass: frameClass, bodyLength: Int(length), sequence: sequence,
            sender: NodeID(sender), receiver: NodeID(receiver))
        header.flags = flags
        return header
    }

    /// Writes the header into the first 28 bytes of `buffer` (the caller has checked the size).
    @inline(__always)
    func write(into buffer: UnsafeMutableRawBufferPointer) {
        var writer = ByteWriter(buffer)
        writer.write(WireFormat.magic)
        writer.write(WireFormat.version)
        writer.write(type)
        writer.write(flags.rawValue)
        writer.write(UInt8(0))
        writer.write(UInt16(0))
        writer.write(UInt32(truncatingIfNeeded: bodyLength))
        writer.write(sequence)
        writer.write(sender.rawValue)
        writer.write(receiver.rawValue)
    }
}
