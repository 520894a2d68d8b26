/// Why bytes are not an acceptable CBOR data item. Every case names the byte offset where reading stopped.
public enum CBORError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input ends inside an item.
    case truncated(offset: Int)
    /// Additional information 28…30 (reserved), or 31 where an indefinite length is not allowed.
    case reservedAdditionalInformation(offset: Int)
    /// A length beyond the decoder's limit or beyond the bytes left.
    case lengthTooLarge(offset: Int, length: UInt64)
    /// Arrays and maps nested deeper than the limit.
    case tooDeep(offset: Int, limit: Int)
    /// More items in total than the limit.
    case tooManyItems(offset: Int, limit: Int)
    /// A text string that is not valid UTF-8.
    case invalidUTF8(offset: Int)
    /// A chunk of an indefinite-length string with another major type, or a nested indefinite chunk.
    case invalidChunk(offset: Int)
    /// A "break" byte outside an indefinite-length item.
    case unexpectedBreak(offset: Int)
    /// Simple value 24 with a value below 32 (not well-formed).
    case invalidSimple(offset: Int)
    /// Bytes after the single top-level item.
    case trailingBytes(offset: Int)
    /// The encoder's output buffer is full.
    case outputFull(capacity: Int)

    /// A one-line English message naming the problem and its byte offset.
    public var description: String {
        switch self {
        case .truncated(let o): "CBOR ends inside an item at byte \(o)"
        case .reservedAdditionalInformation(let o): "CBOR reserved additional information at byte \(o)"
        case .lengthTooLarge(let o, let n): "CBOR length \(n) at byte \(o) exceeds the limit or the input"
        case .tooDeep(let o, let l): "CBOR nested deeper than \(l) levels at byte \(o)"
        case .tooManyItems(let o, let l): "CBOR has more than \(l) items (byte \(o))"
        case .invalidUTF8(let o): "CBOR text string at byte \(o) is not UTF-8"
        case .invalidChunk(let o): "CBOR indefinite-length string has a bad chunk at byte \(o)"
        case .unexpectedBreak(let o): "CBOR break byte outside an indefinite-length item at byte \(o)"
        case .invalidSimple(let o): "CBOR simple value below 32 in two bytes at byte \(o)"
        case .trailingBytes(let o): "CBOR has bytes after the item at byte \(o)"
        case .outputFull(let c): "CBOR encoding exceeds \(c) bytes"
        }
    }
}
