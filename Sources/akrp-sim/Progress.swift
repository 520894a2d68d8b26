import Foundation

/// Progress of a long command on standard error. On a terminal: one line redrawn in place (a bar, at
/// most once per percent). Otherwise (a log file, CI, a pipe): a plain line every `interval` seconds,
/// so that a long run is never silent. Standard output stays for the results.
final class ProgressLine: @unchecked Sendable {
    let total: Int
    let label: String
    /// Standard error is a terminal: redraw in place.
    let terminal = isatty(STDERR_FILENO) != 0
    /// Seconds between lines when standard error is not a terminal.
    let interval: Double
    private let lock = NSLock()
    private let started = Date()
    private var lastPercent = -1
    private var lastLine: Date
    private var drew = false

    /// `interval` comes from `AKRP_PROGRESS_SECONDS` when set (a positive number), else 5 s.
    init(total: Int, label: String) {
        self.total = total
        self.label = label
        let configured = ProcessInfo.processInfo.environment["AKRP_PROGRESS_SECONDS"].flatMap(Double.init)
        interval = configured.map { $0 > 0 && $0.isFinite ? $0 : 5 } ?? 5
        lastLine = started
    }

    /// `done` of `total` items are finished.
    func update(_ done: Int) {
        guard total > 0 else { return }
        update(fraction: Double(done) / Double(total), detail: "\(done)/\(total) \(label)")
    }

    /// A fraction in 0…1 of the whole work is done; `detail` says what (e.g. "3/8 runs").
    func update(fraction: Double, detail: String) {
        let f = min(1, max(0, fraction.isFinite ? fraction : 0))
        lock.lock()
        defer { lock.unlock() }
        if terminal {
            let percent = Int(f * 100)
            guard percent != lastPercent else { return }
            lastPercent = percent
            let width = 30
            let filled = Int(f * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write(Data("\r[\(bar)] \(detail)".utf8))
            drew = true
        } else {
            let now = Date()
            guard now.timeIntervalSince(lastLine) >= interval else { return }
            lastLine = now
            let elapsed = Int(now.timeIntervalSince(started))
            FileHandle.standardError.write(Data("progress: \(Int(f * 100))% (\(detail)), \(elapsed) s\n".utf8))
        }
    }

    /// Ends the display (the terminal line gets its newline).
    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if terminal && drew { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
