import AKRPEngine
public import AKRPKeySource
import Glibc

/// Reads a recorded QKD-device trace file (the thin I/O part; parsing is ``KeyTrace``, pure Swift).
public enum KeyTraceFile {
    /// Why a trace file cannot be loaded.
    public enum LoadError: Error, Equatable, Sendable {
        /// The file cannot be opened or read; `errno` is the system error number.
        case unreadable(path: String, errno: Int32)
        /// The file is larger than `limit` bytes.
        case tooLarge(path: String, limit: Int)
        /// The contents are not a valid trace.
        case malformed(path: String, KeyTraceError)
    }

    /// Largest trace file accepted (bytes), so a wrong path cannot exhaust memory.
    public static let maxBytes = 1 << 30

    /// Loads and parses the trace at `path`. The file's bytes are wiped from memory after parsing.
    public static func load(path: String, byteOrder: TraceByteOrder = .littleEndian) throws(LoadError) -> KeyTrace {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(path: path, errno: errno) }
        guard info.st_size <= maxBytes else { throw .tooLarge(path: path, limit: maxBytes) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, Int(info.st_size)), alignment: 16)
        defer {
            wipe(buffer)
            buffer.deallocate()
        }
        var filled = 0
        while filled < Int(info.st_size) {
            let n = read(fd, buffer.baseAddress! + filled, Int(info.st_size) - filled)
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw .unreadable(path: path, errno: n < 0 ? errno : EIO) }
            filled += n
        }
        do {
            return try KeyTrace(parsing: UnsafeRawBufferPointer(rebasing: buffer[0..<filled]), byteOrder: byteOrder)
        } catch {
            throw .malformed(path: path, error)
        }
    }
}
