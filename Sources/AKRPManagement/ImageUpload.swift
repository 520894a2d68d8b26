import AKRPKeySource

/// The image group's error codes (version 2 `err.rc` of group 1) this server uses.
public enum ImageGroupError: UInt16, Error, Sendable {
    case unknown = 1
    case noImage = 3
    case invalidTLV = 5
    case hashNotFound = 8
    case flashWriteFailed = 12
    case invalidSlot = 14
    case invalidOffset = 20
    case invalidLength = 21
    case invalidImageHeader = 22
    case invalidImageHeaderMagic = 23
    case invalidHash = 24
    case imageTooLarge = 30
    case dataOverrun = 31
    case confirmationDenied = 32
}

/// One upload of an image into the inactive slot, chunk by chunk (the image group's `upload` command):
/// the first chunk (offset 0) carries the total length and optionally the SHA-256 of the whole file; a
/// chunk at any other offset than the next expected one is not stored and the answer names the expected
/// offset, so a client resumes where the box is. A first chunk repeating the length and SHA-256 of the
/// upload in progress resumes it instead of starting over. Storage is bounded by `maximumLength`.
public struct ImageUpload: Sendable {
    /// What one chunk did.
    public enum Step: Sendable, Equatable {
        /// Stored (or ignored as out of order); the client continues at `offset`.
        case next(offset: Int)
        /// The last byte arrived: the whole file, and whether it matches the SHA-256 sent with the first
        /// chunk (nil when none was sent).
        case complete(bytes: [UInt8], match: Bool?)
    }

    /// Largest image accepted, in bytes; a first chunk announcing more is refused with `imageTooLarge`.
    public let maximumLength: Int
    private var expected = 0
    private var length = 0
    private var sha: [UInt8]?
    private var buffer: [UInt8] = []
    private(set) public var inProgress = false
    /// Counts uploads started (a new value means the bytes so far belong to a new upload).
    private(set) public var generation: UInt64 = 0

    /// An idle upload state accepting images of at most `maximumLength` bytes.
    public init(maximumLength: Int) { self.maximumLength = maximumLength }

    /// The next offset expected (0 when no upload is in progress).
    public var offset: Int { inProgress ? expected : 0 }
    /// The total length of the upload in progress.
    public var totalLength: Int { inProgress ? length : 0 }

    /// The SHA-256 sent with the first chunk of the upload in progress, if any.
    public var announcedSHA: [UInt8]? { inProgress ? sha : nil }

    /// The bytes received so far in `range` (within ``offset``), e.g. to keep them on disk.
    public func received(_ range: Range<Int>) -> ArraySlice<UInt8> {
        let r = range.clamped(to: 0..<buffer.count)
        return buffer[r]
    }

    /// Takes up an upload kept on disk: `bytes` received of `length`, announced with `sha`. Refused
    /// (false) when the numbers do not fit together or the limit.
    public mutating func restore(length: Int, sha: [UInt8], bytes: [UInt8]) -> Bool {
        guard length > 0, length <= maximumLength, sha.count == 32, bytes.count < length else { return false }
        cancel()
        inProgress = true
        generation &+= 1
        self.length = length
        self.sha = sha
        buffer = bytes
        buffer.reserveCapacity(length)
        expected = bytes.count
        return true
    }

    /// Drops the upload in progress.
    public mutating func cancel() {
        inProgress = false
        buffer = []
        expected = 0
        length = 0
        sha = nil
    }

    /// Applies one chunk.
    /// - Throws: ``ImageGroupError`` for a first chunk without a valid length, data beyond the length,
    ///   or a SHA-256 that is not 32 bytes.
    public mutating func chunk(offset: UInt64, data: [UInt8], length total: UInt64?, sha: [UInt8]?) throws(ImageGroupError) -> Step {
        if offset == 0 {
            guard let total else { throw .invalidLength }
            guard total > 0 else { throw .invalidLength }
            guard total <= UInt64(maximumLength) else { throw .imageTooLarge }
            if let sha, sha.count != 32 { throw .invalidHash }
            if inProgress, let sha, self.sha == sha, Int(total) == length, expected > 0 {
                return .next(offset: expected)  // resume
            }
            cancel()
            inProgress = true
            generation &+= 1
            length = Int(total)
            self.sha = sha
            buffer.reserveCapacity(length)
        } else {
            guard inProgress, offset == UInt64(expected) else { return .next(offset: self.offset) }
        }
        guard UInt64(data.count) <= UInt64(length - expected) else {
            cancel()
            throw .dataOverrun
        }
        buffer += data
        expected += data.count
        guard expected == length else { return .next(offset: expected) }
        let bytes = buffer
        let match = self.sha.map { SHA256.hash(bytes) == $0 }
        cancel()
        return .complete(bytes: bytes, match: match)
    }
}
