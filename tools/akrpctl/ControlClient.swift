import AKRPEngine
import AKRPWire
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// Where `akrpctl` reaches the box on the box itself: its local control socket.
struct BoxConnectionOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "The box's control socket (default: $AKRP_SOCKET, else /run/akrpd/control.sock).")
    var socket: String?

    @Option(name: .long, help: "Seconds to wait for the box's answer.")
    var timeout: Double = 30

    var path: String {
        if let socket { return socket }
        if let env = getenv("AKRP_SOCKET") { return String(cString: env) }
        return "/run/akrpd/control.sock"
    }

    func validate() throws {
        guard timeout > 0, timeout <= 86_400 else { throw ValidationError("--timeout must be 0…86400 seconds") }
    }
}

/// A blocking client of the box's control socket: one request frame out, frames in until the answer
/// with the same correlation number. Every failure is a ``ControlClientError`` that says what to check.
final class ControlClient {
    let path: String
    private let fd: Int32
    private var decoder = FrameStreamDecoder(maximumFrameSize: WireFormat.headerLength + 64 + ControlMessage.maximumDataLength)
    private var nextCorrelation: UInt64 = 1
    private let deadlineSeconds: Double
    private var pendingBytes: [UInt8] = []

    init(_ options: BoxConnectionOptions) throws(ControlClientError) {
        path = options.path
        deadlineSeconds = options.timeout
        fd = try Self.connectSocket(path)
    }

    /// Connects a stream socket to the Unix socket at `path`.
    static func connectSocket(_ path: String) throws(ControlClientError) -> Int32 {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .system(path: path, "socket", errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            Glibc.close(fd)
            throw .pathTooLong(path)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw .system(path: path, "connect", code)
        }
        return fd
    }

    deinit { Glibc.close(fd) }

    /// Sends `message` (with `data`) and waits for the answer of kind `expecting`.
    /// - Returns: the answer and its data bytes (the caller wipes key bytes).
    func exchange(_ message: ControlMessage, expecting: ControlKind, data: [UInt8] = []) throws(ControlClientError) -> (ControlMessage, [UInt8]) {
        var m = message
        m.correlation = nextCorrelation
        nextCorrelation += 1
        var frame = [UInt8](repeating: 0, count: ControlCodec.frameLength(of: m))
        do throws(WireError) {
            var result: Result<Int, WireError>?
            frame.withUnsafeMutableBytes { out in
                data.withUnsafeBytes { d in
                    result = Result { () throws(WireError) -> Int in try ControlCodec.encode(m, data: d, into: out) }
                }
            }
            _ = try result!.get()
        } catch { throw .protocolError("cannot encode the request: \(error)") }
        try writeAll(frame)
        var start = Self.monotonicSeconds()
        while true {
            if let (answer, bytes) = try nextFrame(), answer.correlation == m.correlation {
                guard answer.kind == expecting else {
                    throw .protocolError("the box answered \(answer.kind) to \(message.kind)")
                }
                return (answer, bytes)
            }
            let now = Self.monotonicSeconds()
            if now - start > deadlineSeconds { throw .timedOut(path: path, seconds: deadlineSeconds) }
            try readSome(deadline: deadlineSeconds - (now - start))
            if start > now { start = now }
        }
    }

    private func nextFrame() throws(ControlClientError) -> (ControlMessage, [UInt8])? {
        while true {
            do throws(WireError) {
                if let frame = try decoder.nextFrame() {
                    let decoded = try ControlCodec.decode(frame)
                    let data = Array(frame[decoded.dataRange])
                    return (decoded.message, data)
                }
            } catch { throw .protocolError("the box sent a malformed frame: \(error)") }
            guard !pendingBytes.isEmpty else { return nil }
            do throws(WireError) {
                var result: Result<Int, WireError>?
                pendingBytes.withUnsafeBytes { b in result = Result { () throws(WireError) -> Int in try decoder.append(b) } }
                let taken = try result!.get()
                pendingBytes.removeFirst(taken)
                if taken == 0 { return nil }
            } catch { throw .protocolError("the box sent a malformed stream: \(error)") }
        }
    }

    private func readSome(deadline: Double) throws(ControlClientError) {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ms = Int32(max(1, min(deadline * 1000, 86_400_000)))
        let ready = poll(&p, 1, ms)
        if ready < 0 {
            if errno == EINTR { return }
            throw .system(path: path, "poll", errno)
        }
        if ready == 0 { return }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { return }
            throw .system(path: path, "read", errno)
        }
        if n == 0 { throw .closed(path: path) }
        pendingBytes += chunk[0..<n]
        chunk.withUnsafeMutableBytes { wipe($0) }
    }

    private func writeAll(_ bytes: [UInt8]) throws(ControlClientError) {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + written, $0.count - written, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(path: path, "write", errno)
            }
            written += n
        }
    }

    private static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// Why `akrpctl` could not talk to the box.
enum ControlClientError: Error, CustomStringConvertible {
    case system(path: String, String, Int32)
    case pathTooLong(String)
    case timedOut(path: String, seconds: Double)
    case closed(path: String)
    case protocolError(String)

    var description: String {
        switch self {
        case .system(let path, let call, let code):
            if call == "connect" && (code == ENOENT || code == ECONNREFUSED) {
                return "no box listens on \(path) (is akrpd running? give its control socket with --socket)"
            }
            if code == EACCES { return "\(path): permission denied (the socket is for the box's group; try sudo)" }
            if code == EPIPE || code == ECONNRESET {
                return "the box closed the connection on \(path) (it is shutting down or stopped)"
            }
            return "\(path): \(call) failed: \(String(cString: strerror(code)))"
        case .pathTooLong(let p): return "socket path too long (at most 107 bytes): \(p)"
        case .timedOut(let path, let s): return "no answer from the box on \(path) within \(s) s (--timeout)"
        case .closed(let path): return "the box closed the connection on \(path) (it is shutting down or stopped)"
        case .protocolError(let s): return s
        }
    }
}
