#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Which form a configuration file has.
public enum ConfigurationFormat: String, Sendable, Equatable {
    /// The human text format (docs/CONFIG.md).
    case text
    /// The binary image (``ConfigurationImage``).
    case image
}

/// Reading a configuration file of either form from disk.
public enum ConfigurationFile {
    /// The largest configuration file accepted, bytes (1 MiB).
    public static let maximumSize = 1 << 20

    /// Reads, decodes and validates the file at `path`, text or image (told apart by the image's magic).
    /// - Returns: the configuration and the file's form.
    /// - Throws: ``ConfigurationFileError`` naming `path`: unreadable, over ``maximumSize``, or refused
    ///   (the text error with its line, or the image error).
    public static func load(_ path: String) throws(ConfigurationFileError) -> (
        configuration: NodeConfiguration, format: ConfigurationFormat
    ) {
        let bytes = try contents(atPath: path)
        if ConfigurationImage.looksLikeImage(bytes) {
            do {
                return (try ConfigurationImage.decode(bytes), .image)
            } catch {
                throw .image(path: path, error)
            }
        }
        do {
            return (try ConfigurationText.parse(bytes: bytes), .text)
        } catch {
            throw .inFile(path: path, error)
        }
    }

    /// The bytes of the regular file at `path`, at most ``maximumSize``.
    /// - Throws: ``ConfigurationFileError/unreadable(path:reason:)`` or ``ConfigurationFileError/tooLarge(path:bytes:limit:)``.
    public static func contents(atPath path: String) throws(ConfigurationFileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, reason: systemError()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(path: path, reason: systemError()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .unreadable(path: path, reason: "not a regular file") }
        if Int(info.st_size) > maximumSize { throw .tooLarge(path: path, bytes: Int(info.st_size), limit: maximumSize) }
        // Read up to one byte more than allowed, in case the file grew since fstat.
        var bytes = [UInt8](repeating: 0, count: maximumSize + 1)
        var count = 0
        while count < bytes.count {
            let n = bytes.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return read(fd, base + count, buffer.count - count)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: path, reason: systemError())
            }
            if n == 0 { break }
            count += n
        }
        if count > maximumSize { throw .tooLarge(path: path, bytes: count, limit: maximumSize) }
        bytes.removeSubrange(count...)
        return bytes
    }

    private static func systemError() -> String { String(cString: strerror(errno)) }
}

extension NodeConfiguration {
    /// Reads, decodes and validates the configuration file at `path`: the text format or its image
    /// (``ConfigurationImage``), told apart by the image's magic. Files over 1 MiB are refused; text
    /// may have LF or CRLF line endings.
    /// - Throws: ``ConfigurationFileError`` naming `path` and, for text, the line and field.
    public static func load(contentsOf path: String) throws(ConfigurationFileError) -> NodeConfiguration {
        try ConfigurationFile.load(path).configuration
    }
}
