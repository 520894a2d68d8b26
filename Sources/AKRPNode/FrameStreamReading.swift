import AKRPWire
import NIOCore

extension FrameStreamDecoder {
    /// Cuts the readable bytes of `buffer` into frames and hands each to `body` while `open()` says the
    /// connection is still open (a frame's handler may close it). Frames are views, valid during `body`.
    /// - Returns: the first error of the stream or of `body` (framing is then lost: close the connection).
    mutating func read(
        _ buffer: ByteBuffer, while open: () -> Bool, _ body: (UnsafeRawBufferPointer) throws(WireError) -> Void
    ) -> WireError? {
        var failed: WireError?
        buffer.withUnsafeReadableBytes { bytes in
            var rest = bytes
            while !rest.isEmpty, failed == nil, open() {
                do throws(WireError) {
                    let taken = try append(rest)
                    rest = UnsafeRawBufferPointer(rebasing: rest[taken...])
                    while open(), let frame = try nextFrame() { try body(frame) }
                } catch {
                    failed = error
                }
            }
        }
        return failed
    }
}
