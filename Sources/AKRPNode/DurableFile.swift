#if canImport(Glibc)
import Glibc
#endif

/// Replaces a file so that a crash or power cut at any byte leaves either the old or the new contents:
/// write a temporary file next to it, `fsync` it, `rename` it over the target, `fsync` the directory.
/// Used by the high-water state (``StateStore``), the configuration slots and the upload journal.
enum DurableFile {
    /// Writes `bytes` to `path` (in `directory`) through `path + temporarySuffix`, created with `mode`.
    static func replace(
        _ path: String, in directory: String, with bytes: [UInt8], temporarySuffix: String, mode: mode_t
    ) throws(StateStoreError) {
        let temporary = path + temporarySuffix
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .system(path: temporary, call: "open", code: errno) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                close(fd)
                throw .system(path: temporary, call: "write", code: code)
            }
            written += n
        }
        if fsync(fd) != 0 {
            let code = errno
            close(fd)
            throw .system(path: temporary, call: "fsync", code: code)
        }
        close(fd)
        guard rename(temporary, path) == 0 else { throw .system(path: path, call: "rename", code: errno) }
        let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { throw .system(path: directory, call: "open", code: errno) }
        defer { close(dir) }
        guard fsync(dir) == 0 else { throw .system(path: directory, call: "fsync", code: errno) }
    }
}
