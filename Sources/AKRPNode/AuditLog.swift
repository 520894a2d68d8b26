#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AKRPEngine

/// The box's audit log, `STATE_DIR/audit.log`: which unit ranges of which link were consumed for which
/// request, which were spent on frame authentication, how many were discarded — never key bytes.
///
/// One event per line, `<unix_ns> <event> key=value …` (docs/OPERATIONS.md, "Audit log"). Lines are
/// collected during one engine step and written with one `write(2)` on an `O_APPEND` descriptor before
/// anything of that step leaves the process, so a `kill -9` loses at most events whose effects never
/// left the box. Together, the logs of all boxes let a checker prove that no unit was used twice and
/// that both ends used each unit for the same request.
final class AuditLog {
    let path: String
    private let node: NodeID
    private var fd: Int32
    private var buffer: [UInt8] = []
    /// Authentication units of this step per (link, direction), as runs.
    private var authentication: [AuthenticationKey: [Range<UnitIndex>]] = [:]
    /// Bytes written and write errors (a failing disk is reported, not hidden).
    private(set) var bytesWritten: UInt64 = 0
    private(set) var writeErrors: UInt64 = 0
    private(set) var lastError: Int32 = 0

    private struct AuthenticationKey: Hashable {
        var link: LinkID
        var sent: Bool
    }

    /// Opens (creating, mode 0600) the log for appending.
    /// - Throws: ``StateStoreError`` when it cannot be opened.
    init(directory: String, node: NodeID) throws(StateStoreError) {
        path = directory + "/audit.log"
        self.node = node
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system(path: path, call: "open", code: errno) }
        buffer.reserveCapacity(1 << 16)
    }

    deinit {
        flush(now: 0)
        if fd >= 0 { close(fd) }
    }

    private func line(_ now: Nanoseconds, _ text: String) {
        buffer += Array("\(now) \(text)\n".utf8)
    }

    func started(incarnation: UInt64, now: Nanoseconds) {
        line(now, "start node=\(node.rawValue) incarnation=\(incarnation)")
    }

    func consumed(link: LinkID, request: RequestID, units: UnitRuns, now: Nanoseconds) {
        var runs = ""
        var i = 0
        while i < Int(units.runCount) {
            let r = units[i]
            if !runs.isEmpty { runs += "," }
            runs += r.end - r.start == 1 ? "\(r.start)" : "\(r.start)-\(r.end - 1)"
            i += 1
        }
        line(now, "consumed node=\(node.rawValue) link=\(link.low.rawValue)-\(link.high.rawValue) request=\(request) units=\(runs)")
    }

    func discarded(link: LinkID, count: Int, now: Nanoseconds) {
        guard count > 0 else { return }
        line(now, "discarded node=\(node.rawValue) link=\(link.low.rawValue)-\(link.high.rawValue) count=\(count)")
    }

    func delivered(request: RequestID, role: KeyRole, now: Nanoseconds) {
        line(now, "delivered node=\(node.rawValue) request=\(request) role=\(role == .source ? "source" : "destination")")
    }

    func failed(request: RequestID, reason: String, now: Nanoseconds) {
        line(now, "failed node=\(node.rawValue) request=\(request) reason=\(reason)")
    }

    /// A unit of `link` consumed to authenticate a frame sent (or received) here.
    func authentication(link: LinkID, sent: Bool, unit: UnitIndex) {
        let key = AuthenticationKey(link: link, sent: sent)
        if var runs = authentication[key], let last = runs.last, last.upperBound == unit {
            runs[runs.count - 1] = last.lowerBound..<(unit + 1)
            authentication[key] = runs
        } else {
            authentication[key, default: []].append(unit..<(unit + 1))
        }
    }

    /// Whether lines are waiting to be written.
    var hasPending: Bool { !buffer.isEmpty || !authentication.isEmpty }

    /// Writes what this step collected.
    func flush(now: Nanoseconds) {
        for (key, runs) in authentication {
            let text = runs.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound - 1)" }
                .joined(separator: ",")
            line(
                now,
                "auth node=\(node.rawValue) link=\(key.link.low.rawValue)-\(key.link.high.rawValue) dir=\(key.sent ? "sent" : "received") units=\(text)"
            )
        }
        authentication.removeAll(keepingCapacity: true)
        guard !buffer.isEmpty, fd >= 0 else { return }
        var written = 0
        while written < buffer.count {
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                writeErrors += 1
                lastError = errno
                break
            }
            written += n
        }
        bytesWritten += UInt64(written)
        buffer.removeAll(keepingCapacity: true)
    }
}
