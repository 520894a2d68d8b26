/// Why a configuration image is refused. Decoding checks, in order: the header's size, magic, version
/// and flags, the declared body length against the bytes given, the SHA-256, then the body field by
/// field, then ``NodeConfiguration/validate()``.
public enum ConfigurationImageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Fewer bytes than the 48-byte header.
    case truncatedHeader(bytes: Int)
    /// The first eight bytes are not ``ConfigurationImage/magic``.
    case badMagic
    /// A format version this build does not read.
    case unsupportedVersion(UInt16)
    /// Flag bits this build does not know (version 1 defines none).
    case unsupportedFlags(UInt16)
    /// The header declares a body longer than ``ConfigurationImage/maximumBodySize``.
    case bodyTooLarge(declared: UInt32)
    /// The image ends before the declared body does.
    case truncatedBody(declared: Int, available: Int)
    /// Bytes follow the declared body.
    case trailingBytes(count: Int)
    /// The SHA-256 over header and body does not match: the image is damaged.
    case checksumMismatch
    /// The body (whose checksum matched) does not decode: `field` at byte `offset` of the body, and why.
    case malformedBody(offset: Int, field: String, reason: String)
    /// The decoded configuration does not validate.
    case invalid(ConfigurationValidationError)

    /// One line.
    public var description: String {
        switch self {
        case .truncatedHeader(let bytes): "truncated: \(bytes) bytes, shorter than the \(ConfigurationImage.headerSize)-byte header"
        case .badMagic: "bad magic: not a configuration image"
        case .unsupportedVersion(let v): "unsupported format version \(v) (this build reads version \(ConfigurationImage.version))"
        case .unsupportedFlags(let f): "unsupported flags 0x\(String(f, radix: 16)) (version \(ConfigurationImage.version) defines none)"
        case .bodyTooLarge(let declared):
            "declared body of \(declared) bytes exceeds the \(ConfigurationImage.maximumBodySize)-byte limit"
        case .truncatedBody(let declared, let available): "truncated: body of \(declared) bytes declared, \(available) present"
        case .trailingBytes(let count): "\(count) unexpected bytes after the body"
        case .checksumMismatch: "SHA-256 mismatch: the image is damaged"
        case .malformedBody(let offset, let field, let reason): "malformed body at byte \(offset), field '\(field)': \(reason)"
        case .invalid(let error): "invalid configuration: \(error)"
        }
    }
}
