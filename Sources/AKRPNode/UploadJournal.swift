#if canImport(Glibc)
import Glibc
#endif

/// The image upload in progress, kept in the slot directory so that an upload cut by a restart or a
/// power cut resumes where it stopped: `upload.meta` (`len=`, `sha=`, written atomically) and
/// `upload.part` (the bytes received, appended as they come). Never the active slot: whatever these
/// files hold, the complete image is checked (SHA-256 sent by the client, the container's hash) before it
/// is stored in a slot. Only uploads announced with a SHA-256 are kept (a resumption is matched by it).
struct UploadJournal {
    let directory: String
    var meta: String { directory + "/upload.meta" }
    var part: String { directory + "/upload.part" }

    /// Starts a new upload: the metadata durably, the bytes file empty.
    func begin(length: Int, sha: [UInt8]) throws(StateStoreError) {
        let d = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        for b in sha { hex += [d[Int(b >> 4)], d[Int(b & 15)]] }
        let fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .system(path: part, call: "open", code: errno) }
        close(fd)
        try ConfigurationSlots.writeAtomically(
            Array("len=\(length)\nsha=".utf8) + hex + [0x0A], to: meta, directory: directory)
    }

    /// Appends received bytes.
    func append(_ bytes: ArraySlice<UInt8>) throws(StateStoreError) {
        guard !bytes.isEmpty else { return }
        let fd = open(part, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw .system(path: part, call: "open", code: errno) }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(path: part, call: "write", code: errno)
            }
            written += n
        }
    }

    /// Forgets the upload.
    func clear() {
        unlink(meta)
        unlink(part)
    }

    /// The upload kept, if the files are there and make sense: its length, SHA-256 and bytes so far.
    func load() -> (length: Int, sha: [UInt8], bytes: [UInt8])? {
        guard let m = try? ConfigurationSlots.read(meta), let bytes = try? ConfigurationSlots.read(part) else { return nil }
        var length: Int?
        var sha: [UInt8]?
        for line in String(decoding: m, as: UTF8.self).split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { continue }
            if kv[0] == "len" { length = Int(kv[1]) }
            if kv[0] == "sha" { sha = ManagementHex.bytes(kv[1]) }
        }
        guard let length, let sha, sha.count == 32 else { return nil }
        return (length, sha, bytes)
    }
}

/// Hex digits to bytes (nil when not hex).
enum ManagementHex {
    static func bytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        var i = 0
        while i < digits.count {
            guard let hi = value(digits[i]), let lo = value(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
