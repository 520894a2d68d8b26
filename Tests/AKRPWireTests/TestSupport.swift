import AKRPEngine
import AKRPWire

/// A reproducible pseudo-random generator (SplitMix64) for property tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Both ends of a directed link drawing the same deterministic stream: byte `i` of the stream is
/// `UInt8(truncatingIfNeeded: i &* 7 &+ seed)`. Optionally runs dry after `limit` bytes.
struct CountingKeySupply: AuthenticationKeySupply {
    var position: UInt64 = 0
    var seed: UInt8
    var limit: UInt64 = .max

    init(seed: UInt8 = 0, limit: UInt64 = .max) {
        self.seed = seed
        self.limit = limit
    }

    mutating func draw(into buffer: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard limit - position >= UInt64(buffer.count) else { throw .keySupplyExhausted }
        for i in 0..<buffer.count {
            buffer[i] = UInt8(truncatingIfNeeded: (position &+ UInt64(i)) &* 7) &+ seed
        }
        position += UInt64(buffer.count)
    }
}

/// The stream used by the WIRE.md vectors: byte `i` is `i mod 256`.
struct SequentialKeySupply: AuthenticationKeySupply {
    var position: UInt64 = 0
    mutating func draw(into buffer: UnsafeMutableRawBufferPointer) throws(WireError) {
        for i in 0..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: position &+ UInt64(i)) }
        position += UInt64(buffer.count)
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

func bytes(hex text: String) -> [UInt8] {
    let digits = text.filter { $0.isHexDigit }
    var out: [UInt8] = []
    var i = digits.startIndex
    while i < digits.endIndex {
        let j = digits.index(after: i)
        out.append(UInt8(digits[i...j], radix: 16)!)
        i = digits.index(after: j)
    }
    return out
}

/// Encodes without a tag (the tag bytes stay zero).
func encodeUnsealed(_ m: Message, payload: [UInt8] = []) throws(WireError) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: MessageCodec.frameLength(of: m))
    var result: Result<Int, WireError> = .success(0)
    out.withUnsafeMutableBytes { buffer in
        payload.withUnsafeBytes { p in
            result = Result { () throws(WireError) -> Int in try MessageCodec.encodeUnsealed(m, payload: p, into: buffer) }
        }
    }
    let n = try result.get()
    return Array(out[0..<n])
}

func decode(_ frame: [UInt8]) throws(WireError) -> (DecodedMessage, [UInt8]) {
    var payload = [UInt8](repeating: 0, count: 65_536)
    var result: Result<DecodedMessage, WireError> = .failure(.streamFailed)
    frame.withUnsafeBytes { f in
        payload.withUnsafeMutableBytes { p in
            result = Result { () throws(WireError) -> DecodedMessage in try MessageCodec.decode(f, payloadInto: p) }
        }
    }
    let decoded = try result.get()
    return (decoded, Array(payload[0..<Int(decoded.message.payloadLength)]))
}

func seal<S: AuthenticationKeySupply>(
    _ m: Message, payload: [UInt8] = [], sealer: inout FrameSealer, keys: inout S
) throws(WireError) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: MessageCodec.frameLength(of: m) + 8)
    var result: Result<Int, WireError> = .success(0)
    out.withUnsafeMutableBytes { buffer in
        payload.withUnsafeBytes { p in
            result = Result { () throws(WireError) -> Int in
                try sealer.seal(m, payload: p, into: buffer, keys: &keys)
            }
        }
    }
    let n = try result.get()
    return Array(out[0..<n])
}

func open<S: AuthenticationKeySupply>(
    _ frame: [UInt8], verifier: inout FrameVerifier, keys: inout S
) throws(WireError) -> (DecodedMessage, [UInt8]) {
    var payload = [UInt8](repeating: 0, count: 65_536)
    var result: Result<DecodedMessage, WireError> = .failure(.streamFailed)
    frame.withUnsafeBytes { f in
        payload.withUnsafeMutableBytes { p in
            result = Result { () throws(WireError) -> DecodedMessage in
                try verifier.open(f, payloadInto: p, keys: &keys)
            }
        }
    }
    let decoded = try result.get()
    return (decoded, Array(payload[0..<Int(decoded.message.payloadLength)]))
}

func encodeControl(_ m: ControlMessage, data: [UInt8] = []) throws(WireError) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: ControlCodec.frameLength(of: m))
    var result: Result<Int, WireError> = .success(0)
    out.withUnsafeMutableBytes { buffer in
        data.withUnsafeBytes { d in
            result = Result { () throws(WireError) -> Int in try ControlCodec.encode(m, data: d, into: buffer) }
        }
    }
    return Array(out[0..<(try result.get())])
}

func decodeControl(_ frame: [UInt8]) throws(WireError) -> (DecodedControl, [UInt8]) {
    var data = [UInt8](repeating: 0, count: ControlMessage.maximumDataLength)
    var result: Result<DecodedControl, WireError> = .failure(.streamFailed)
    frame.withUnsafeBytes { f in
        data.withUnsafeMutableBytes { d in
            result = Result { () throws(WireError) -> DecodedControl in try ControlCodec.decode(f, dataInto: d) }
        }
    }
    let decoded = try result.get()
    return (decoded, Array(data[0..<Int(decoded.message.dataLength)]))
}

/// A random valid message of `kind` from `from` to `to`, with only the fields its kind carries set.
func randomMessage<G: RandomNumberGenerator>(
    _ kind: MessageKind, from: NodeID = NodeID(7), to: NodeID = NodeID(9), using g: inout G
) -> (Message, [UInt8]) {
    var m = Message(kind: kind, from: from, to: to)
    m.sequence = UInt64.random(in: 0...UInt64.max, using: &g)
    m.incarnation = UInt64.random(in: 0...UInt64.max, using: &g)
    m.peerIncarnation = UInt64.random(in: 0...UInt64.max, using: &g)
    var payload: [UInt8] = []
    func randomRuns() -> UnitRuns {
        var runs = UnitRuns()
        var next = UInt64.random(in: 0...(1 << 40), using: &g)
        for _ in 0..<Int.random(in: 1...UnitRuns.capacity, using: &g) {
            let count = UInt32.random(in: 1...1000, using: &g)
            try! runs.append(run: UnitRun(start: next, count: count))
            next += UInt64(count) + UInt64.random(in: 1...50, using: &g)
        }
        return runs
    }
    if MessageLayout.carriesRequest(kind) {
        m.request = RequestID(source: NodeID(UInt32.random(in: 1...UInt32.max, using: &g)), serial: UInt32.random(in: 0...UInt32.max, using: &g))
        m.branch = UInt8.random(in: 0...255, using: &g)
    }
    if MessageLayout.carriesHop(kind) { m.hop = UInt8.random(in: 0...15, using: &g) }
    func randomPath(minimumNodes: Int) -> Path {
        var nodes: [NodeID] = []
        let count = Int.random(in: minimumNodes...17, using: &g)
        while nodes.count < count {
            let n = NodeID(UInt32.random(in: 1...40, using: &g))
            if !nodes.contains(n) { nodes.append(n) }
        }
        return try! Path(nodes)
    }
    switch kind {
    case .hello, .resync: m.index = UInt64.random(in: 0...UInt64.max, using: &g)
    case .delivered:
        m.reason = UInt8.random(in: 0...1, using: &g)
        m.path = randomPath(minimumNodes: 2)
        m.hop = UInt8.random(in: 0...UInt8(m.path.hops - 1), using: &g)
    case .reserve:
        m.path = randomPath(minimumNodes: 2)
        m.hop = UInt8.random(in: 0...UInt8(m.path.hops - 1), using: &g)
        m.size = UInt16.random(in: 1...UInt16.max, using: &g)
        m.time = UInt64.random(in: 0...UInt64.max, using: &g)
        m.index = UInt64.random(in: 0...UInt64.max, using: &g)
        m.units = randomRuns()
    case .confirm:
        m.time = UInt64.random(in: 0...UInt64.max, using: &g)
        m.index = UInt64.random(in: 0...UInt64.max, using: &g)
        m.units = randomRuns()
    case .fail: m.reason = FailReason.allCases.randomElement(using: &g)!.rawValue
    case .abortReply: m.reason = UInt8.random(in: 1...3, using: &g)
    case .commit, .share:
        if kind == .commit {
            m.reason = UInt8.random(in: 0...1, using: &g)
            m.shareMask = UInt32.random(in: 0..<(1 << 17), using: &g)
            m.time = UInt64.random(in: 0...UInt64.max, using: &g)
            m.units = randomRuns()
        } else {
            m.path = randomPath(minimumNodes: 3)
            m.hop = UInt8.random(in: 1...UInt8(m.path.hops - 1), using: &g)
            m.size = UInt16.random(in: 1...UInt16.max, using: &g)
        }
        payload = (0..<Int.random(in: 0...300, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
        m.payloadLength = UInt16(payload.count)
    case .linkState:
        let low = UInt32.random(in: 1...1000, using: &g)
        m.subject = LinkID(NodeID(low), NodeID(low + UInt32.random(in: 1...1000, using: &g)))
        m.request = RequestID(source: Bool.random(using: &g) ? m.subject.low : m.subject.high, serial: 0)
        m.hop = UInt8.random(in: 0...255, using: &g)
        m.index = UInt64.random(in: 0...UInt64.max, using: &g)
        m.rate = UInt32.random(in: 0...UInt32.max, using: &g)
        m.serial = UInt32.random(in: 0...UInt32.max, using: &g)
    default: break
    }
    return (m, payload)
}
