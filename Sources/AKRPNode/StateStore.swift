#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AKRPEngine

/// Why the durable state could not be read or written. Each case names the file.
public enum StateStoreError: Error, Sendable, CustomStringConvertible {
    /// A system call failed on `path` (`errno` value `code`).
    case system(path: String, call: String, code: Int32)
    /// `path` exists but its content is not what this version writes.
    case corrupt(path: String, reason: String)

    /// The file, and the failed system call with its error text or why the content is refused.
    public var description: String {
        switch self {
        case .system(let path, let call, let code):
            "\(path): \(call) failed: \(String(cString: strerror(code)))"
        case .corrupt(let path, let reason): "\(path): \(reason)"
        }
    }
}

/// The box's durable state — never key bytes: the incarnation counter and, per link end, the
/// high-water mark of unit indices the box may have delivered or referenced (docs/OPERATIONS.md,
/// "Restart safety").
///
/// Both live in one small text file, `STATE_DIR/state`, replaced atomically (write a temporary file,
/// `fsync` it, `rename` it over the old one, `fsync` the directory): after a crash the file is either
/// the old or the new version, never a mix. The rule that makes `kill -9` safe: a mark is advanced
/// and made durable *before* anything that names a unit above the old mark leaves the process; on
/// start every link resumes at or past its mark, so no unit is ever used by two incarnations.
final class StateStore {
    let directory: String
    private var path: String { directory + "/state" }
    /// The incarnation of this run (previous run's plus one, made durable before the engine starts).
    private(set) var incarnation: UInt64 = 0
    /// Per neighbour: units below the mark may have been used by an earlier incarnation.
    private(set) var marks: [NodeID: UnitIndex] = [:]
    /// Times the file was rewritten (each an fsync pair).
    private(set) var writes: UInt64 = 0

    /// Opens (creating if needed, mode 0700) the state directory and reads the state file.
    /// - Throws: ``StateStoreError`` when the directory cannot be made or the file is unreadable or corrupt.
    init(directory: String) throws(StateStoreError) {
        self.directory = directory
        try Self.makeDirectory(directory)
        try load()
    }

    private static func makeDirectory(_ path: String) throws(StateStoreError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw .system(path: prefix, call: "mkdir", code: errno)
            }
        }
    }

    private func load() throws(StateStoreError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return }
            throw .system(path: path, call: "open", code: errno)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(path: path, call: "read", code: errno)
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
            if bytes.count > 1 << 20 { throw .corrupt(path: path, reason: "larger than 1 MiB") }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        var lineNumber = 0
        for line in text.split(separator: "\n") {
            lineNumber += 1
            let words = line.split(separator: " ")
            if words.count == 2, words[0] == "incarnation", let value = UInt64(words[1]) {
                incarnation = value
            } else if words.count == 3, words[0] == "mark", let peer = UInt32(words[1]), let value = UInt64(words[2]) {
                marks[NodeID(peer)] = value
            } else if words.first == "akrpd-state" {
                continue
            } else {
                throw .corrupt(path: path, reason: "line \(lineNumber) is not 'incarnation N' or 'mark PEER INDEX'")
            }
        }
    }

    /// Starts a new incarnation (the previous one plus one) and makes it durable.
    func beginIncarnation() throws(StateStoreError) -> UInt64 {
        incarnation &+= 1
        if incarnation == 0 { incarnation = 1 }
        try persist()
        return incarnation
    }

    /// The mark of the link to `peer` (0 when never recorded).
    func mark(_ peer: NodeID) -> UnitIndex { marks[peer] ?? 0 }

    /// Raises marks and makes them durable in one write. Marks never go down.
    func raise(_ updates: [(NodeID, UnitIndex)]) throws(StateStoreError) {
        var changed = false
        for (peer, value) in updates where value > mark(peer) {
            marks[peer] = value
            changed = true
        }
        if changed { try persist() }
    }

    /// Sets the marks to exactly `values` at a graceful stop: nothing at or above them was ever used by
    /// this incarnation (it has stopped using units) nor by an earlier one (each started at its mark), so
    /// the next start loses no key to the high-water step.
    func settle(_ values: [(NodeID, UnitIndex)]) throws(StateStoreError) {
        for (peer, value) in values { marks[peer] = value }
        try persist()
    }

    private func persist() throws(StateStoreError) {
        var text = "akrpd-state 1\nincarnation \(incarnation)\n"
        for (peer, value) in marks.sorted(by: { $0.key < $1.key }) {
            text += "mark \(peer.rawValue) \(value)\n"
        }
        try DurableFile.replace(path, in: directory, with: Array(text.utf8), temporarySuffix: ".new", mode: 0o600)
        writes += 1
    }
}
