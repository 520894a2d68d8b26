public import AKRPConfig
public import AKRPManagement

#if canImport(Glibc)
import Glibc
#endif

/// The two configuration slots in `<state-dir>/config/` and the boot record that says which one runs:
/// `slot-a.img`, `slot-b.img` (MCUboot containers holding a configuration image) and `boot` (text:
/// `active=`, `pending=`, `trial=`, `permanent=` with `a`, `b` or `none`).
///
/// The rules are MCUboot's test / confirm / revert: a slot marked *pending* is started once as a *trial*;
/// the trial becomes *active* only when confirmed; a start that finds a trial still unconfirmed (the box
/// restarted, crashed or gave up waiting for its neighbours) goes back to the active slot. Every file is
/// written to a temporary name, fsynced, renamed and its directory fsynced, so a power cut at any byte
/// leaves either the old or the new file — and never touches the active slot during an upload.
public final class ConfigurationSlots: @unchecked Sendable {
    /// A physical slot.
    public enum Slot: String, Sendable, CaseIterable {
        case a, b
        /// The slot that is not this one (`a` ↔ `b`).
        public var other: Slot { self == .a ? .b : .a }
    }

    /// The boot record.
    public struct Record: Sendable, Equatable {
        /// The confirmed slot that runs when no trial is due; nil: none (the box runs its command-line file).
        public var active: Slot?
        /// The slot marked to start at the next start (on trial, or active at once when ``permanent``); nil: none.
        public var pending: Slot?
        /// The slot running on trial, not yet confirmed; nil: none. Still set at a start means revert.
        public var trial: Slot?
        /// The pending slot becomes active at once (confirmed without a trial).
        public var permanent = false
    }

    /// How a start was decided.
    public enum Boot: Sendable, Equatable {
        /// No flashed configuration: the file named on the command line.
        case file
        /// The confirmed slot.
        case active(Slot)
        /// A pending slot started on trial: it must be confirmed within the confirm timeout.
        case trial(Slot)
    }

    /// The slot directory, `<state-dir>/config`.
    public let directory: String
    /// The boot record as last read or written (the `boot` file).
    public private(set) var record: Record

    /// Opens (creates) the slot directory of a state directory and reads the boot record.
    public init(stateDirectory: String) throws(StateStoreError) {
        directory = stateDirectory + "/config"
        if mkdir(stateDirectory, 0o750) != 0 && errno != EEXIST {
            throw .system(path: stateDirectory, call: "mkdir", code: errno)
        }
        if mkdir(directory, 0o750) != 0 && errno != EEXIST { throw .system(path: directory, call: "mkdir", code: errno) }
        record = Record()
        if let text = try Self.read(directory + "/boot").map({ String(decoding: $0, as: UTF8.self) }) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                let slot = Slot(rawValue: parts[1])
                switch parts[0] {
                case "active": record.active = slot
                case "pending": record.pending = slot
                case "trial": record.trial = slot
                case "permanent": record.permanent = parts[1] == "yes"
                default: break
                }
            }
        }
    }

    /// The file of `slot`: `<state-dir>/config/slot-a.img` or `slot-b.img`.
    public func path(_ slot: Slot) -> String { directory + "/slot-\(slot.rawValue).img" }

    /// The bytes of a slot's container, nil when the slot is empty.
    public func contents(_ slot: Slot) throws(StateStoreError) -> [UInt8]? { try Self.read(path(slot)) }

    /// The configuration in a slot, checked: the container's SHA-256 and the configuration image.
    public func configuration(_ slot: Slot) -> (NodeConfiguration, MCUbootImage)? {
        guard let bytes = try? contents(slot), let image = try? MCUbootImage(parsing: bytes),
            let c = try? ConfigurationImage.decode(image.payload)
        else { return nil }
        return (c, image)
    }

    /// Decides what this start runs, and records it durably before anything runs: an unconfirmed trial
    /// is reverted; a pending slot becomes the trial (or active at once when permanent).
    public func boot() throws(StateStoreError) -> Boot {
        var r = record
        if r.trial != nil {
            r.trial = nil  // an unconfirmed trial did not survive its start: revert
        }
        if let pending = r.pending {
            r.pending = nil
            if configuration(pending) != nil {
                if r.permanent { r.active = pending } else { r.trial = pending }
            }
            r.permanent = false
        }
        if let active = r.active, configuration(active) == nil { r.active = nil }
        try write(r)
        if let trial = r.trial { return .trial(trial) }
        if let active = r.active { return .active(active) }
        return .file
    }

    /// Writes the boot record durably.
    public func write(_ r: Record) throws(StateStoreError) {
        func name(_ s: Slot?) -> String { s?.rawValue ?? "none" }
        let text = "active=\(name(r.active))\npending=\(name(r.pending))\ntrial=\(name(r.trial))\npermanent=\(r.permanent ? "yes" : "no")\n"
        try Self.writeAtomically(Array(text.utf8), to: directory + "/boot", directory: directory)
        record = r
    }

    /// Stores a checked container in `slot` durably (the slot's pending mark, if any, is cleared first).
    public func store(_ bytes: [UInt8], in slot: Slot) throws(StateStoreError) {
        if record.pending == slot {
            var r = record
            r.pending = nil
            r.permanent = false
            try write(r)
        }
        try Self.writeAtomically(bytes, to: path(slot), directory: directory)
    }

    // MARK: files

    static func read(_ path: String) throws(StateStoreError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw .system(path: path, call: "open", code: errno)
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(path: path, call: "read", code: errno)
            }
            if n == 0 { return out }
            out += chunk[0..<n]
            if out.count > 4 << 20 { throw .system(path: path, call: "read", code: EFBIG) }
        }
    }

    /// Replaces `path` durably (``DurableFile``): a power cut at any byte leaves the old or the new file.
    static func writeAtomically(_ bytes: [UInt8], to path: String, directory: String) throws(StateStoreError) {
        try DurableFile.replace(path, in: directory, with: bytes, temporarySuffix: ".tmp", mode: 0o640)
    }
}
