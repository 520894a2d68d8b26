import AKRPConfig
import AKRPManagement
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// Where `akrpctl` reaches a box's management interface (SMP): its Unix socket on the box itself (the
/// default), its serial line (the USB port) or UDP.
struct SMPConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "Serial port of the box's USB management line (e.g. /dev/ttyACM0).")
    var port: String?

    @Option(name: .long, help: "The box's SMP UDP address, HOST[:PORT] (port 1337 when omitted).")
    var udp: String?

    @Option(
        name: .customLong("smp-socket"),
        help: "The box's SMP socket (default: $AKRP_SMP_SOCKET, else /run/akrpd/smp.sock).")
    var smpSocket: String?

    @Option(name: .customLong("smp-timeout"), help: "Seconds to wait for each SMP answer.")
    var smpTimeout: Double = 10

    /// Whether any SMP transport was named on the command line.
    var named: Bool { port != nil || udp != nil || smpSocket != nil }

    var socketPath: String {
        if let smpSocket { return smpSocket }
        if let env = getenv("AKRP_SMP_SOCKET") { return String(cString: env) }
        return "/run/akrpd/smp.sock"
    }

    func validate() throws {
        guard [port, udp, smpSocket].compactMap({ $0 }).count <= 1 else {
            throw ValidationError("name one of --port, --udp and --smp-socket")
        }
        guard smpTimeout > 0, smpTimeout <= 3600 else { throw ValidationError("--smp-timeout must be 0…3600 seconds") }
        if let udp, SMPClient.parseUDP(udp) == nil {
            throw ValidationError("--udp must be HOST[:PORT] with an IPv4 address, e.g. 127.0.0.1:1337, got '\(udp)'")
        }
    }
}

/// An SMP error answer, or a transport failure, said so that an operator knows what to check.
struct SMPClientError: Error, CustomStringConvertible {
    /// A version-2 group error: the group and its own code.
    struct GroupError: Equatable {
        var group: UInt16
        var code: UInt64
    }

    var description: String
    /// Set when the box answered a group error.
    var groupError: GroupError?
    init(_ text: String, groupError: GroupError? = nil) {
        description = text
        self.groupError = groupError
    }
}

/// A blocking SMP client: one request out, the answer with the same sequence number in.
final class SMPClient {
    enum Transport {
        case stream, datagram, serial
    }

    let transport: Transport
    let place: String
    private let fd: Int32
    private let timeout: Double
    private var sequence = UInt8.random(in: 0...255)
    private var serialDecoder = SerialFrameDecoder()
    private var streamPending: [UInt8] = []

    init(_ o: SMPConnectionOptions) throws {
        timeout = o.smpTimeout
        if let port = o.port {
            place = port
            transport = .serial
            fd = open(port, O_RDWR | O_NOCTTY | O_CLOEXEC)
            guard fd >= 0 else { throw SMPClientError("cannot open \(port): \(String(cString: strerror(errno)))") }
            var t = termios()
            if tcgetattr(fd, &t) == 0 {
                cfmakeraw(&t)
                cfsetispeed(&t, speed_t(B115200))
                cfsetospeed(&t, speed_t(B115200))
                _ = tcsetattr(fd, TCSANOW, &t)
            }
        } else if let udp = o.udp {
            guard let (host, port) = Self.parseUDP(udp) else { throw SMPClientError("bad --udp \(udp)") }
            place = "udp \(host):\(port)"
            transport = .datagram
            fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { throw SMPClientError("socket: \(String(cString: strerror(errno)))") }
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = port.bigEndian
            _ = inet_pton(AF_INET, host, &a.sin_addr)
            let r = withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard r == 0 else { throw SMPClientError("cannot reach \(place): \(String(cString: strerror(errno)))") }
        } else {
            let path = o.socketPath
            place = path
            transport = .stream
            do throws(ControlClientError) { fd = try ControlClient.connectSocket(path) } catch {
                if case .system(_, "connect", let code) = error, code == ENOENT || code == ECONNREFUSED {
                    throw SMPClientError(
                        "no box listens on \(path) (is akrpd running? name its management interface with --smp-socket, --port or --udp)")
                }
                throw SMPClientError("\(error)")
            }
        }
    }

    deinit { close(fd) }

    static func parseUDP(_ text: String) -> (String, UInt16)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, !parts[0].isEmpty else { return nil }
        var a = in_addr()
        guard inet_pton(AF_INET, String(parts[0]), &a) == 1 else { return nil }
        if parts.count == 2 {
            guard let p = UInt16(parts[1]), p > 0 else { return nil }
            return (String(parts[0]), p)
        }
        return (String(parts[0]), 1337)
    }

    /// Sends one request and returns the answer's body. An SMP error or a group error is thrown, named.
    func request(group: UInt16, command: UInt8, write: Bool, _ body: [(String, CBORValue)] = []) throws -> CBORValue {
        sequence &+= 1
        let b = try CBOREncoder.encode(.object(body))
        let header = SMPHeader(
            operation: write ? .write : .read, version: 1, length: UInt16(b.count), group: group, sequence: sequence, command: command)
        let packet = header.bytes + b
        try send(transport == .serial ? SerialFraming.encode(packet) : packet)
        let deadline = Self.now() + timeout
        while true {
            for answer in try receive(until: deadline) {
                guard let h = SMPHeader(answer), h.sequence == sequence, h.group == group, h.command == command,
                    Int(h.length) == answer.count - SMPHeader.size
                else { continue }
                let value = h.length == 0 ? CBORValue.map([]) : try CBORDecoder.decode(Array(answer[SMPHeader.size...]))
                if let rc = value["rc"]?.unsignedValue, rc != 0 {
                    let name = SMPReturnCode(rawValue: UInt16(clamping: rc))?.description ?? "code \(rc)"
                    throw SMPClientError("the box answered SMP error \(rc) (\(name)) to group \(group) command \(command)")
                }
                if let err = value["err"], let rc = err["rc"]?.unsignedValue, rc != 0 {
                    let errorGroup = err["group"]?.unsignedValue ?? UInt64(group)
                    throw SMPClientError(
                        "the box answered group \(errorGroup) error \(rc)",
                        groupError: SMPClientError.GroupError(group: UInt16(clamping: errorGroup), code: rc))
                }
                return value
            }
        }
    }

    private func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + sent, $0.count - sent) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw SMPClientError("cannot send to \(place): \(String(cString: strerror(errno)))")
            }
            sent += n
        }
    }

    /// Whole packets received before `deadline` (at least one, or a timeout error).
    private func receive(until deadline: Double) throws -> [[UInt8]] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let left = deadline - Self.now()
            guard left > 0 else { throw SMPClientError("no answer from \(place) within \(timeout) s (--smp-timeout)") }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, Int32(min(left, 1) * 1000) + 1)
            if r < 0 && errno != EINTR { throw SMPClientError("poll: \(String(cString: strerror(errno)))") }
            guard r > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw SMPClientError("cannot read from \(place): \(String(cString: strerror(errno)))")
            }
            if n == 0 { throw SMPClientError("\(place) closed the connection (the box stopped or restarts)") }
            let bytes = Array(buffer[0..<n])
            switch transport {
            case .datagram: return [bytes]
            case .serial:
                let packets = serialDecoder.feed(bytes).compactMap { if case .packet(let p) = $0 { p } else { nil } }
                if !packets.isEmpty { return packets }
            case .stream:
                streamPending += bytes
                var packets: [[UInt8]] = []
                while streamPending.count >= SMPHeader.size {
                    let length = Int(streamPending[2]) << 8 | Int(streamPending[3])
                    guard streamPending.count >= SMPHeader.size + length else { break }
                    packets.append(Array(streamPending[0..<(SMPHeader.size + length)]))
                    streamPending.removeFirst(SMPHeader.size + length)
                }
                if !packets.isEmpty { return packets }
            }
        }
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}

/// Converts a CBOR answer into JSON for `--json` output (byte strings as hex).
func jsonValue(_ v: CBORValue) -> JSONValue {
    switch v {
    case .unsigned(let n): .unsigned(n)
    case .negative(let n): n < UInt64(Int.max) ? .signed(-1 - Int(n)) : .null
    case .bytes(let b): .string(hexText(b))
    case .text(let s): .string(s)
    case .array(let a): .array(a.map(jsonValue))
    case .map(let pairs):
        .object(pairs.map { (k, v) in (k.textValue ?? "\(k)", jsonValue(v)) })
    case .tagged(_, let inner): jsonValue(inner)
    case .bool(let b): .bool(b)
    case .null, .undefined, .simple: .null
    case .float(let x): .real(x)
    }
}

func hexText(_ bytes: [UInt8]) -> String {
    let d = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in bytes { out += [d[Int(b >> 4)], d[Int(b & 15)]] }
    return String(decoding: out, as: UTF8.self)
}
