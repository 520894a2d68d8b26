/// The human text format of a ``NodeConfiguration`` (docs/CONFIG.md): `field = value` settings at the top,
/// then `[engine]`, `[keys]`, `[peers]`, `[topology]` and one `[neighbour N]` section per neighbour.
///
/// ``parse(_:)`` reads and validates; ``render(_:)`` writes every setting back, so that
/// `parse(render(c)) == c` for every valid `c`.
public enum ConfigurationText {
    /// Reads and validates a configuration. LF and CRLF line endings are both accepted.
    /// - Throws: ``ConfigurationFileError`` naming the line, section and field of the first problem.
    public static func parse(_ text: String) throws(ConfigurationFileError) -> NodeConfiguration {
        try parse(bytes: Array(text.utf8))
    }

    /// Reads and validates a configuration from the bytes of a file (UTF-8; LF or CRLF line endings; an
    /// optional byte order mark).
    /// - Throws: ``ConfigurationFileError`` naming the line, section and field of the first problem.
    public static func parse(bytes: [UInt8]) throws(ConfigurationFileError) -> NodeConfiguration {
        var parser = ConfigurationParser()
        return try parser.parse(bytes)
    }
}
