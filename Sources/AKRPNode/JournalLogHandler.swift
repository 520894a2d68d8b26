#if canImport(Glibc)
import Glibc
#endif
public import Logging

/// A log handler for a daemon under systemd: one line per event on standard error, prefixed with the
/// syslog priority (`<3>` … `<7>`) that journald reads as the entry's level; on a terminal, a time
/// stamp and the level name instead. Metadata as `key=value`. The daemon never logs key bytes.
public struct JournalLogHandler: LogHandler {
    /// Events below this level are not logged.
    public var logLevel: Logger.Level
    /// Metadata added to every event, written as `key=value` after the message (an event's own values win).
    public var metadata: Logger.Metadata = [:]
    let label: String
    let terminal: Bool

    /// A handler logging events at `level` and above, prefixed with `label`; journald or terminal format
    /// depending on whether standard error is a terminal.
    public init(label: String, level: Logger.Level) {
        self.label = label
        logLevel = level
        terminal = isatty(STDERR_FILENO) != 0
    }

    /// The handler-wide metadata value for `key`; nil when not set (setting nil removes it).
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one line for `event` to standard error with a single `write` call.
    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let fields = merged.sorted { $0.key < $1.key }.map { " \($0.key)=\(quoted("\($0.value)"))" }.joined()
        var line: String
        if terminal {
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            var t = ts.tv_sec
            var parts = tm()
            gmtime_r(&t, &parts)
            let stamp =
                "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec)).\(pad(Int32(ts.tv_nsec / 1_000_000), 3))"
            line = "\(stamp) \(event.level) \(label): \(event.message)\(fields)\n"
        } else {
            line = "<\(priority(event.level))>\(label): \(event.message)\(fields)\n"
        }
        line.withUTF8 { bytes in _ = write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
    }

    private func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    private func pad(_ v: Int32, _ width: Int = 2) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    private func quoted(_ s: String) -> String {
        s.contains(" ") || s.isEmpty ? "\"\(s)\"" : s
    }
}
