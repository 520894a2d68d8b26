public import AKRPEngine

/// Several protocol messages to one neighbour in one authenticated frame (docs/WIRE.md §4.7).
///
/// A bundle is a frame of type 0x20 whose body is a sequence of complete neighbour frames as
/// ``MessageCodec/encodeUnsealed(_:payload:into:)`` writes them (header, body, 16 zero bytes where a tag
/// would be), each with the bundle's sender, receiver and sequence number. Only the bundle is
/// authenticated (one pad for all its messages); the inner frames are checked by the codec like any
/// frame, and a bundle is used only if every inner frame decodes. Allocation-free.
public enum MessageBundle {
    /// Bytes one message takes inside a bundle.
    public static func length(of message: Message) -> Int { MessageCodec.frameLength(of: message) }

    /// Most bytes of inner frames one bundle may carry under `maximumFrameSize`.
    public static func capacity(maximumFrameSize: Int = WireFormat.defaultMaximumFrameSize) -> Int {
        max(0, maximumFrameSize - WireFormat.headerLength - WireFormat.tagLength)
    }

    /// Writes a bundle into a buffer: ``append(_:payload:)`` each message, then ``finish()``.
    public struct Writer {
        private let buffer: UnsafeMutableRawBufferPointer
        private let sequence: UInt64
        private let sender: NodeID
        private let receiver: NodeID
        private var offset = WireFormat.headerLength
        /// Messages appended so far.
        public private(set) var count = 0

        /// A bundle from `sender` to `receiver` with `sequence`, written into `buffer`.
        public init(into buffer: UnsafeMutableRawBufferPointer, sequence: UInt64, sender: NodeID, receiver: NodeID) {
            self.buffer = buffer
            self.sequence = sequence
            self.sender = sender
            self.receiver = receiver
        }

        /// Appends `message` (its sequence number is set to the bundle's) with its payload.
        /// - Throws: the codec's errors; `.invalidField(.sender/.receiver)` for a message of another link;
        ///   `.bufferTooSmall` when it does not fit with the bundle's trailer.
        public mutating func append(_ message: Message, payload: UnsafeRawBufferPointer) throws(WireError) {
            guard message.from == sender else { throw .invalidField(.sender) }
            guard message.to == receiver else { throw .invalidField(.receiver) }
            var m = message
            m.sequence = sequence
            let room = buffer.count - offset - WireFormat.tagLength
            guard room > 0 else { throw .bufferTooSmall(needed: offset + MessageBundle.length(of: m) + WireFormat.tagLength) }
            let inner = UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + room)])
            let n = try MessageCodec.encodeUnsealed(m, payload: payload, into: inner)
            // The inner frame's tag space carries nothing: zero it.
            inner.baseAddress!.advanced(by: n - WireFormat.tagLength).initializeMemory(
                as: UInt8.self, repeating: 0, count: WireFormat.tagLength)
            offset += n
            count += 1
        }

        /// Writes the bundle's header; returns the frame length with the trailer's 16 bytes left for the
        /// sealer. - Throws: `.invalidField(.size)` for fewer than 2 messages (send those as plain frames).
        public func finish() throws(WireError) -> Int {
            guard count >= 2 else { throw .invalidField(.size) }
            FrameHeader(
                frameClass: .bundle, bodyLength: offset - WireFormat.headerLength, sequence: sequence, sender: sender,
                receiver: receiver
            ).write(into: buffer)
            return offset + WireFormat.tagLength
        }
    }

    /// Decodes every message of the bundle `frame` (header already parsed, length checked) in order,
    /// first checking them all: `body` sees nothing unless every inner frame is valid, carries the
    /// bundle's sender, receiver and sequence, and has a zero tag space. Returns the number of messages.
    /// Payloads are copied into `payloadInto` one message at a time (valid during that call of `body`).
    /// - Throws: `.unknownType` when `frame` is not a bundle; an inner frame's codec error;
    ///   `.invalidField(.sender/.receiver/.sequence)` for an inner header that differs from the bundle's;
    ///   `.invalidField(.size)` for an empty bundle.
    @discardableResult
    public static func decode(
        _ frame: UnsafeRawBufferPointer, header: FrameHeader, maximumFrameSize: Int = WireFormat.defaultMaximumFrameSize,
        payloadInto: UnsafeMutableRawBufferPointer?, body: (DecodedMessage) -> Void
    ) throws(WireError) -> Int {
        guard header.frameClass == .bundle else { throw .unknownType(header.type) }
        var count = 0
        for pass in 0..<2 {
            var offset = WireFormat.headerLength
            let end = WireFormat.headerLength + header.bodyLength
            guard end <= frame.count else { throw .truncated(needed: end) }
            while offset < end {
                let rest = UnsafeRawBufferPointer(rebasing: frame[offset..<end])
                let inner = try FrameHeader.parse(rest, maximumFrameSize: maximumFrameSize)
                guard case .neighbour = inner.frameClass else { throw .unknownType(inner.type) }
                guard inner.sender == header.sender else { throw .invalidField(.sender) }
                guard inner.receiver == header.receiver else { throw .invalidField(.receiver) }
                guard inner.sequence == header.sequence else { throw .invalidField(.sequence) }
                guard inner.frameLength <= rest.count else { throw .truncated(needed: offset + inner.frameLength) }
                let bytes = UnsafeRawBufferPointer(rebasing: rest[0..<inner.frameLength])
                var tagSpace: UInt8 = 0
                for i in (inner.frameLength - WireFormat.tagLength)..<inner.frameLength { tagSpace |= bytes[i] }
                guard tagSpace == 0 else { throw .invalidField(.reserved) }
                if pass == 0 {
                    _ = try MessageCodec.decode(bytes, payloadInto: nil, maximumFrameSize: maximumFrameSize)
                    count += 1
                } else {
                    body(try MessageCodec.decode(bytes, payloadInto: payloadInto, maximumFrameSize: maximumFrameSize))
                }
                offset += inner.frameLength
            }
            guard count > 0 else { throw .invalidField(.size) }
        }
        return count
    }
}
