import AKRPEngine

/// Cuts a TCP byte stream into frames: partial frames wait for more bytes, several frames per read
/// come out one by one, and a header declaring more than the maximum frame size fails the stream
/// before any byte is buffered toward it.
///
/// The buffer is allocated once, at creation, with room for one maximum-size frame. Errors are
/// sticky: after one, framing is lost and every later call throws `.streamFailed`; close the
/// connection. Frames are returned as views into the buffer, valid until the next mutating call.
///
/// ```swift
/// var rest = bytesFromSocket
/// while !rest.isEmpty {
///     let taken = try decoder.append(rest)
///     rest = UnsafeRawBufferPointer(rebasing: rest[taken...])
///     while let frame = try decoder.nextFrame() { try handle(frame) }
/// }
/// ```
public struct FrameStreamDecoder: ~Copyable {
    private let buffer: UnsafeMutableRawBufferPointer
    /// Start of the unread bytes.
    private var readIndex = 0
    /// End of the unread bytes.
    private var writeIndex = 0
    private var failed = false
    /// The largest frame accepted, header and tag included, in bytes.
    public let maximumFrameSize: Int

    /// A decoder accepting frames of up to `maximumFrameSize` bytes (at least
    /// ``WireFormat/minimumMaximumFrameSize``).
    public init(maximumFrameSize: Int = WireFormat.defaultMaximumFrameSize) {
        self.maximumFrameSize = max(maximumFrameSize, WireFormat.minimumMaximumFrameSize)
        buffer = .allocate(byteCount: self.maximumFrameSize, alignment: 8)
    }

    deinit {
        // Commit and share payloads are relay shares (public), but wiping costs nothing here.
        wipe(buffer)
        buffer.deallocate()
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedByteCount: Int { writeIndex - readIndex }

    /// Copies as many of `bytes` as fit into the buffer and returns how many it took. It takes fewer
    /// than offered only when the buffer holds a complete frame: call ``nextFrame()`` and offer the
    /// rest again.
    /// - Throws: `.streamFailed` after an earlier error.
    @_noAllocation
    public mutating func append(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> Int {
        guard !failed else { throw .streamFailed }
        guard !bytes.isEmpty, let source = bytes.baseAddress else { return 0 }
        if buffer.count - writeIndex < bytes.count, readIndex > 0 {
            // Move the unread tail to the front; it is shorter than one frame unless frames are waiting.
            let unread = writeIndex - readIndex
            if unread > 0 {
                buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + readIndex, byteCount: unread)
            }
            readIndex = 0
            writeIndex = unread
        }
        let taken = min(bytes.count, buffer.count - writeIndex)
        if taken > 0 {
            (buffer.baseAddress! + writeIndex).copyMemory(from: source, byteCount: taken)
            writeIndex += taken
        }
        return taken
    }

    /// The next complete frame, or `nil` when more bytes are needed. The header is checked as soon as
    /// its 28 bytes are there; the body and tag are checked by the codec or verifier.
    /// - Throws: the header errors of ``FrameHeader/parse(_:maximumFrameSize:)`` (then the stream is
    ///   failed), or `.streamFailed` after an earlier error.
    public mutating func nextFrame() throws(WireError) -> UnsafeRawBufferPointer? {
        guard !failed else { throw .streamFailed }
        let available = writeIndex - readIndex
        guard available >= WireFormat.headerLength else { return nil }
        let start = UnsafeRawBufferPointer(start: buffer.baseAddress! + readIndex, count: available)
        let header: FrameHeader
        do throws(WireError) {
            header = try FrameHeader.parse(start, maximumFrameSize: maximumFrameSize)
        } catch {
            failed = true
            throw error
        }
        let length = header.frameLength
        guard available >= length else { return nil }
        readIndex += length
        if readIndex == writeIndex {
            readIndex = 0
            writeIndex = 0
        }
        return UnsafeRawBufferPointer(start: start.baseAddress!, count: length)
    }
}
