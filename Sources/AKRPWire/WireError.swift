public import AKRPEngine

/// Why a frame could not be encoded, decoded, authenticated or framed.
///
/// Every failure of the wire layer is one of these cases; no input, however malformed, traps.
public enum WireError: Error, Sendable, Equatable {
    /// The input ends before the frame does; `needed` is the byte count the frame declares so far.
    case truncated(needed: Int)
    /// The first two bytes are not the AKRP magic `0x41 0x4B` ("AK").
    case badMagic
    /// The frame's format version is not one this build speaks.
    case unsupportedVersion(UInt8)
    /// The message-type byte names no protocol or control message.
    case unknownType(UInt8)
    /// The flags byte has reserved bits set, or does not match the message class
    /// (neighbour frames must be authenticated, control frames must be local).
    case invalidFlags(UInt8)
    /// The frame (header + body + tag) would exceed the configured maximum frame size, in bytes.
    case frameTooLarge(Int)
    /// The input holds more bytes than the one frame it declares (a frame is consumed exactly).
    case trailingBytes(Int)
    /// The body ended before `field` could be read.
    case bodyTooShort(WireField)
    /// The body holds bytes after the last field of its message type.
    case bodyTooLong(Int)
    /// `field` holds a value outside its range.
    case invalidField(WireField)
    /// The path of a message is not a valid path.
    case invalidPath(PathError)
    /// The unit runs of a message are invalid or not in canonical (merged, ascending) form.
    case invalidUnits(UnitRunsError)
    /// The caller's output buffer is too small; `needed` bytes are required.
    case bufferTooSmall(needed: Int)
    /// The frame's authentication tag does not match: forged, corrupted, or keyed with other link key.
    case authenticationFailed
    /// The frame's sequence number is not above the last accepted one on this directed link.
    case replayed(sequence: UInt64)
    /// The frame's sequence number is further ahead than the verification window allows.
    case sequenceGapTooLarge(sequence: UInt64)
    /// The frame names a hash key older than the one this end already accepted frames under.
    case staleHashKey(index: UInt64)
    /// The link key supply could not provide the authentication key bytes asked for.
    case keySupplyExhausted
    /// Too many frames failed verification under the current hash key; the link must be re-keyed.
    case authenticationLocked
    /// The stream decoder failed earlier; the connection's framing is lost and it must be closed.
    case streamFailed
}

/// A field of the wire format, named in errors.
public enum WireField: UInt8, Sendable, Equatable, CustomStringConvertible {
    case reserved, sender, receiver, sequence, incarnation, peerIncarnation
    case request, branch, hop, reason, size, time, index, rate, serial, subject, shareMask
    case path, units, payloadLength, payload
    case section, offset, totalLength, dataLength, data, destination, keyLength, status
    case linkCount, statistics

    /// The field's name as in `docs/WIRE.md`.
    public var description: String {
        switch self {
        case .reserved: "reserved"
        case .sender: "sender"
        case .receiver: "receiver"
        case .sequence: "sequence"
        case .incarnation: "incarnation"
        case .peerIncarnation: "peerIncarnation"
        case .request: "request"
        case .branch: "branch"
        case .hop: "hop"
        case .reason: "reason"
        case .size: "size"
        case .time: "time"
        case .index: "index"
        case .rate: "rate"
        case .serial: "serial"
        case .subject: "subject"
        case .shareMask: "shareMask"
        case .path: "path"
        case .units: "units"
        case .payloadLength: "payloadLength"
        case .payload: "payload"
        case .section: "section"
        case .offset: "offset"
        case .totalLength: "totalLength"
        case .dataLength: "dataLength"
        case .data: "data"
        case .destination: "destination"
        case .keyLength: "keyLength"
        case .status: "status"
        case .linkCount: "linkCount"
        case .statistics: "statistics"
        }
    }
}

extension WireError: CustomStringConvertible {
    /// A one-line, human-readable explanation.
    public var description: String {
        switch self {
        case .truncated(let needed): "truncated frame: \(needed) bytes needed"
        case .badMagic: "bad magic (not an AKRP frame)"
        case .unsupportedVersion(let v): "unsupported wire version \(v)"
        case .unknownType(let t): "unknown message type 0x\(String(t, radix: 16))"
        case .invalidFlags(let f): "invalid flags 0x\(String(f, radix: 16))"
        case .frameTooLarge(let n): "frame too large: \(n) bytes"
        case .trailingBytes(let n): "\(n) trailing bytes after the frame"
        case .bodyTooShort(let field): "body too short: ends before \(field)"
        case .bodyTooLong(let n): "body too long: \(n) extra bytes"
        case .invalidField(let field): "invalid value in field \(field)"
        case .invalidPath(let e): "invalid path (\(e))"
        case .invalidUnits(let e): "invalid unit runs (\(e))"
        case .bufferTooSmall(let n): "output buffer too small: \(n) bytes needed"
        case .authenticationFailed: "authentication failed (bad tag)"
        case .replayed(let s): "replayed or reordered frame (sequence \(s))"
        case .sequenceGapTooLarge(let s): "sequence \(s) too far ahead"
        case .staleHashKey(let i): "frame keyed under hash key unit \(i), older than the current one"
        case .keySupplyExhausted: "link key supply exhausted"
        case .authenticationLocked: "authentication locked after too many failures"
        case .streamFailed: "stream decoder failed earlier"
        }
    }
}
