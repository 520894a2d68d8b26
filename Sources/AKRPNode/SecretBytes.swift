import AKRPEngine

/// Key bytes held by the box shell (a delivered key waiting to be fetched, a frame's authentication
/// key). Allocated once, wiped when released; never printed, never logged.
public final class SecretBytes {
    /// The bytes (wiped and freed with the object).
    public let bytes: UnsafeMutableRawBufferPointer

    /// A zeroed buffer of `count` bytes.
    public init(count: Int) {
        bytes = .allocate(byteCount: max(count, 1), alignment: 16)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
    }

    /// A copy of `source`.
    public convenience init(copying source: UnsafeRawBufferPointer) {
        self.init(count: source.count)
        if let from = source.baseAddress, source.count > 0 {
            bytes.baseAddress!.copyMemory(from: from, byteCount: source.count)
        }
    }

    /// Number of bytes.
    public var count: Int { bytes.count }

    deinit {
        wipe(bytes)
        bytes.deallocate()
    }
}
