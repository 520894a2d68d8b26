import AKRPConfig
import AKRPEngine
import AKRPKeySource
import AKRPWire
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// `akrpctl load`: drives many end-to-end key requests through a running network and checks every key
/// at both ends — the test bed's and the benchmarks' load generator.
struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Request many keys from a box, fetch each at the destination box and compare them.",
        discussion: """
            Keeps --concurrency requests in flight on the source box's control socket. Every delivered key is \
            fetched by its ID on the destination box's socket (--fetch-socket) and compared byte for byte \
            (by SHA-256 digest, no key is printed). Reports keys per second, latency percentiles (request to \
            answer at the source, which comes after the destination confirmed), failures by reason, and \
            mismatches; exit status 1 if any key differs or a delivered key is missing at the destination.
            """)

    @OptionGroup var box: BoxConnectionOptions

    @Option(name: .long, help: "Node ID of the destination box.")
    var to: UInt32

    @Option(name: .long, help: "The destination box's control socket, to fetch and compare every key there.")
    var fetchSocket: String?

    @Option(name: .long, help: "Number of requests.")
    var requests: Int = 1000

    @Option(name: .long, help: "Requests in flight at once.")
    var concurrency: Int = 16

    @Option(name: .long, help: "Key length in bits (multiple of 8; rounded up to whole key units by the box).")
    var bits: Int = 256

    @Option(name: .long, help: "Stop after this many seconds even if requests remain (0 = no limit).")
    var duration: Double = 0

    @Option(name: .long, help: "Write one line per delivered key (id, bits, sha256, latency µs) to this file.")
    var digests: String?

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        guard to != 0 else { throw ValidationError("--to must be a node ID (1…4294967295)") }
        guard (1...100_000_000).contains(requests) else { throw ValidationError("--requests must be 1…100000000") }
        guard (1...4096).contains(concurrency) else { throw ValidationError("--concurrency must be 1…4096") }
        guard bits >= 8, bits % 8 == 0, bits / 8 <= ControlMessage.maximumDataLength else {
            throw ValidationError("--bits must be a multiple of 8 between 8 and \(ControlMessage.maximumDataLength * 8)")
        }
        guard duration >= 0, duration <= 86_400 else { throw ValidationError("--duration must be 0…86400 seconds") }
    }

    func run() throws {
        let source = try PipelinedControlConnection(path: box.path)
        let destination = try fetchSocket.map { try PipelinedControlConnection(path: $0) }
        var digestFile: UnsafeMutablePointer<FILE>?
        if let digests {
            guard let f = fopen(digests, "w") else { throw DeviceCommandFailure("cannot write \(digests)") }
            digestFile = f
        }
        defer { if let digestFile { fclose(digestFile) } }
        var result = LoadResult()
        var started: [UInt64: Double] = [:]
        var sourceDigests: [UInt64: (RequestID, [UInt8], Double)] = [:]
        var nextCorrelation: UInt64 = 1
        let begin = monotonicSeconds()
        var lastProgress = begin
        let terminal = isatty(STDERR_FILENO) != 0
        func send() throws(ControlClientError) {
            var m = ControlMessage(kind: .keyRequest, correlation: nextCorrelation)
            m.destination = NodeID(to)
            m.keyLength = UInt16(bits / 8)
            started[nextCorrelation] = monotonicSeconds()
            nextCorrelation += 1
            result.sent += 1
            try source.send(m)
        }
        while result.sent < requests && started.count < concurrency { try send() }
        while !started.isEmpty || !sourceDigests.isEmpty {
            let now = monotonicSeconds()
            if duration > 0 && now - begin > duration && result.sent < requests { result.stoppedEarly = true }
            if now - lastProgress >= 2 {
                lastProgress = now
                let line = "load: \(result.sent)/\(requests) sent, \(result.delivered) delivered, \(result.failed) failed, \(result.verified) verified"
                writeStandardError(terminal ? "\r" + line : line + "\n")
            }
            let ready = try PipelinedControlConnection.wait([source, destination].compactMap { $0 }, seconds: box.timeout)
            guard ready else {
                throw DeviceCommandFailure("no answer within \(box.timeout) s (\(started.count) requests and \(sourceDigests.count) fetches open)")
            }
            while let (answer, key) = try source.next() {
                guard answer.kind == .keyResponse, let t0 = started.removeValue(forKey: answer.correlation) else { continue }
                let latency = monotonicSeconds() - t0
                if answer.status == 0 && !key.isEmpty {
                    result.delivered += 1
                    result.latencies.append(latency)
                    let digest = SHA256.hash(key)
                    if let digestFile {
                        fputs("\(answer.request) \(key.count * 8) \(hex(digest)) \(Int(latency * 1e6))\n", digestFile)
                    }
                    if let destination {
                        var fetch = ControlMessage(kind: .keyFetchRequest, correlation: answer.correlation)
                        fetch.request = answer.request
                        try destination.send(fetch)
                        sourceDigests[answer.correlation] = (answer.request, digest, latency)
                    }
                } else {
                    result.failed += 1
                    result.failures[FrameDecoding.keyStatusName(answer.status), default: 0] += 1
                }
                if result.sent < requests && !result.stoppedEarly { try send() }
            }
            if let destination {
                while let (answer, key) = try destination.next() {
                    guard answer.kind == .keyResponse, let (id, digest, _) = sourceDigests.removeValue(forKey: answer.correlation)
                    else { continue }
                    if answer.status != 0 || key.isEmpty {
                        result.missingAtDestination += 1
                        if result.problems.count < 10 { result.problems.append("key \(id): not at the destination (\(FrameDecoding.keyStatusName(answer.status)))") }
                    } else if SHA256.hash(key) != digest {
                        result.mismatches += 1
                        if result.problems.count < 10 { result.problems.append("key \(id): different bytes at the two ends") }
                    } else {
                        result.verified += 1
                    }
                }
            }
        }
        if terminal && lastProgress > begin { writeStandardError("\n") }
        result.seconds = monotonicSeconds() - begin
        print(json ? result.json(fetching: destination != nil) : result.text(fetching: destination != nil))
        if result.mismatches > 0 || result.missingAtDestination > 0 {
            throw DeviceCommandFailure("\(result.mismatches) keys differ and \(result.missingAtDestination) are missing at the destination")
        }
    }
}

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

/// Writes progress to standard error (unbuffered, no shared `FILE`).
func writeStandardError(_ text: String) {
    var text = text
    text.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// What one load run measured.
struct LoadResult {
    var sent = 0
    var delivered = 0
    var failed = 0
    var failures: [String: Int] = [:]
    var verified = 0
    var mismatches = 0
    var missingAtDestination = 0
    var problems: [String] = []
    var latencies: [Double] = []
    var seconds = 0.0
    var stoppedEarly = false

    func percentile(_ p: Double) -> Double {
        guard !latencies.isEmpty else { return 0 }
        let sorted = latencies.sorted()
        let i = min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))
        return sorted[i]
    }

    var rate: Double { seconds > 0 ? Double(delivered) / seconds : 0 }

    func text(fetching: Bool) -> String {
        var out = "\(sent) requested, \(delivered) delivered, \(failed) failed in \(String(format2(seconds))) s: \(format2(rate)) keys/s\n"
        out += "latency ms: p50 \(format2(percentile(0.5) * 1e3)), p90 \(format2(percentile(0.9) * 1e3)), "
            + "p99 \(format2(percentile(0.99) * 1e3)), max \(format2((latencies.max() ?? 0) * 1e3))"
        if !failures.isEmpty {
            out += "\nfailures: " + failures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
        if fetching {
            out += "\nat the destination: \(verified) equal, \(mismatches) different, \(missingAtDestination) missing"
        }
        for p in problems { out += "\n  " + p }
        return out
    }

    func json(fetching: Bool) -> String {
        var fields: [(String, JSONValue)] = [
            ("requested", .unsigned(UInt64(sent))), ("delivered", .unsigned(UInt64(delivered))), ("failed", .unsigned(UInt64(failed))),
            ("failures", .object(failures.sorted { $0.key < $1.key }.map { ($0.key, .unsigned(UInt64($0.value))) })),
            ("seconds", .string(format2(seconds))), ("keys_per_second", .string(format2(rate))),
            ("latency_ms", .object([
                ("p50", .string(format2(percentile(0.5) * 1e3))), ("p90", .string(format2(percentile(0.9) * 1e3))),
                ("p99", .string(format2(percentile(0.99) * 1e3))), ("max", .string(format2((latencies.max() ?? 0) * 1e3))),
            ])),
            ("stopped_early", .bool(stoppedEarly)),
        ]
        if fetching {
            fields += [
                ("verified", .unsigned(UInt64(verified))), ("mismatches", .unsigned(UInt64(mismatches))),
                ("missing_at_destination", .unsigned(UInt64(missingAtDestination))),
                ("problems", .array(problems.map { .string($0) })),
            ]
        }
        return JSONValue.object(fields).text
    }
}

/// A number with two decimals (no Foundation formatting).
func format2(_ v: Double) -> String {
    guard v.isFinite else { return "0" }
    let scaled = (v * 100).rounded()
    let whole = Int(scaled / 100)
    let cents = Int(abs(scaled).truncatingRemainder(dividingBy: 100))
    return "\(whole).\(cents < 10 ? "0" : "")\(cents)"
}

/// A control connection with many requests in flight: frames are sent at once and answers read as they
/// come, matched by correlation number.
final class PipelinedControlConnection {
    let path: String
    let fd: Int32
    private var decoder = FrameStreamDecoder(maximumFrameSize: WireFormat.headerLength + 64 + ControlMessage.maximumDataLength)
    private var pending: [UInt8] = []
    private var pendingStart = 0
    private var frame = [UInt8](repeating: 0, count: WireFormat.headerLength + 64 + ControlMessage.maximumDataLength)

    init(path: String) throws(ControlClientError) {
        self.path = path
        fd = try ControlClient.connectSocket(path)
    }

    deinit { close(fd) }

    func send(_ m: ControlMessage) throws(ControlClientError) {
        let length: Int
        do throws(WireError) {
            var result: Result<Int, WireError>?
            frame.withUnsafeMutableBytes { out in
                result = Result { () throws(WireError) -> Int in
                    try ControlCodec.encode(m, data: UnsafeRawBufferPointer(start: nil, count: 0), into: out)
                }
            }
            length = try result!.get()
        } catch { throw .protocolError("cannot encode a request: \(error)") }
        var written = 0
        while written < length {
            let n = frame.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + written, length - written, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(path: path, "write", errno)
            }
            written += n
        }
    }

    /// Waits until one of `connections` has bytes (and reads them); false on timeout.
    static func wait(_ connections: [PipelinedControlConnection], seconds: Double) throws(ControlClientError) -> Bool {
        var fds = connections.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        let ready = poll(&fds, nfds_t(fds.count), Int32(max(1, min(seconds * 1000, 86_400_000))))
        if ready < 0 {
            if errno == EINTR { return true }
            throw .system(path: connections.first?.path ?? "", "poll", errno)
        }
        if ready == 0 { return false }
        for (i, p) in fds.enumerated() where p.revents != 0 { try connections[i].readAvailable() }
        return true
    }

    private func readAvailable() throws(ControlClientError) {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR || errno == EAGAIN { return }
            throw .system(path: path, "read", errno)
        }
        if n == 0 { throw .closed(path: path) }
        if pendingStart > 0 && pendingStart == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingStart = 0
        }
        pending += chunk[0..<n]
        chunk.withUnsafeMutableBytes { wipe($0) }
    }

    /// The next complete answer, or nil when more bytes are needed. Key bytes are returned as data.
    func next() throws(ControlClientError) -> (ControlMessage, [UInt8])? {
        while true {
            do throws(WireError) {
                if let f = try decoder.nextFrame() {
                    let decoded = try ControlCodec.decode(f)
                    return (decoded.message, Array(f[decoded.dataRange]))
                }
                guard pendingStart < pending.count else { return nil }
                var result: Result<Int, WireError>?
                pending.withUnsafeBytes { all in
                    result = Result { () throws(WireError) -> Int in
                        try decoder.append(UnsafeRawBufferPointer(rebasing: all[pendingStart...]))
                    }
                }
                let taken = try result!.get()
                pendingStart += taken
                if taken == 0 { return nil }
            } catch { throw .protocolError("the box sent a malformed frame: \(error)") }
        }
    }
}
