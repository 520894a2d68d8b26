// Wire codec benchmarks: encode + MAC + decode + verify of a typical RESERVE frame, with the stand-alone
// shared-hash-key sealer (docs/WIRE.md §4) and with the pool-keyed recycled-key MAC the relay boxes use
// (§4.6).
// Run from Benchmarks/: `swift package benchmark --target WireBenchmarks` (see README.md here).
import AKRPEngine
import AKRPWire
import Benchmark

/// Link key stand-in: a counter written 8 bytes at a time (both ends draw the same stream).
struct CounterKeySupply: AuthenticationKeySupply {
    var counter: UInt64 = 0x0123_4567_89AB_CDEF
    mutating func draw(into buffer: UnsafeMutableRawBufferPointer) throws(WireError) {
        var offset = 0
        while offset + 8 <= buffer.count {
            counter &+= 0x9E37_79B9_7F4A_7C15
            buffer.storeBytes(of: counter, toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        while offset < buffer.count {
            buffer[offset] = UInt8(truncatingIfNeeded: counter)
            offset += 1
        }
    }
}

/// A typical RESERVE: hop 1 of a 5-node path, 32 units in two runs, the sender's window end (134 bytes).
func typicalReserve() -> Message {
    var m = Message(kind: .reserve, from: NodeID(2), to: NodeID(3))
    m.incarnation = 0x1122_3344
    m.peerIncarnation = 0x5566_7788
    m.request = RequestID(source: NodeID(1), serial: 4242)
    m.branch = 0
    m.hop = 1
    m.size = 32
    m.time = 123_456_789_000
    m.index = 10_064
    m.path = try! Path([NodeID(1), NodeID(2), NodeID(3), NodeID(4), NodeID(5)])
    try! m.units.append(run: UnitRun(start: 10_000, count: 24))
    try! m.units.append(run: UnitRun(start: 10_030, count: 8))
    return m
}

let benchmarks: @Sendable () -> Void = {
    Benchmark(
        "RESERVE-encode-MAC-decode-verify",
        configuration: .init(
            metrics: [.mallocCountTotal, .throughput, .wallClock],
            scalingFactor: .kilo,
            maxDuration: .seconds(5),
            maxIterations: 1_000,
            // Committed threshold: not one heap allocation per measured iteration (1,000 frames).
            thresholds: [.mallocCountTotal: .init(absolute: [.p0: 0, .p50: 0, .p90: 0, .p99: 0, .p100: 0])]
        )
    ) { benchmark in
        let message = typicalReserve()
        let frameLength = MessageCodec.frameLength(of: message)
        let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: frameLength, alignment: 8)
        defer { frame.deallocate() }
        let noPayload = UnsafeRawBufferPointer(start: nil, count: 0)
        var sealer = FrameSealer(from: NodeID(2), to: NodeID(3))
        var verifier = FrameVerifier(from: NodeID(2), to: NodeID(3))
        var sendKeys = CounterKeySupply()
        var receiveKeys = CounterKeySupply()
        var outgoing = message
        var checksum: UInt64 = 0

        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            outgoing.sequence = sealer.nextSequence
            do throws(WireError) {
                let length = try sealer.seal(outgoing, payload: noPayload, into: frame, keys: &sendKeys)
                let decoded = try verifier.open(
                    UnsafeRawBufferPointer(start: frame.baseAddress, count: length), payloadInto: nil,
                    keys: &receiveKeys)
                checksum &+= decoded.message.sequence &+ UInt64(decoded.message.units.runCount)
            } catch {
                fatalError("benchmark frame refused: \(error)")
            }
        }
        benchmark.stopMeasurement()
        blackHole(checksum)
    }

    Benchmark(
        "RESERVE-pool-keyed-seal-verify",
        configuration: .init(
            metrics: [.mallocCountTotal, .throughput, .wallClock],
            scalingFactor: .kilo,
            maxDuration: .seconds(5),
            maxIterations: 1_000,
            // Committed threshold: not one heap allocation per measured iteration (1,000 frames).
            thresholds: [.mallocCountTotal: .init(absolute: [.p0: 0, .p50: 0, .p90: 0, .p99: 0, .p100: 0])]
        )
    ) { benchmark in
        // The tag arithmetic of pool-keyed frames (Poly1305 with s = 0, the GF(2^64) pair, an 8-byte pad):
        // a fixed hash key as between two relay boxes, a fresh pad per frame from a counter.
        let message = typicalReserve()
        let frameLength = MessageCodec.frameLength(of: message)
        let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: frameLength, alignment: 8)
        let hashKey = UnsafeMutableRawBufferPointer.allocate(byteCount: PoolKeyedFrames.hashKeyBytes, alignment: 8)
        let pad = UnsafeMutableRawBufferPointer.allocate(byteCount: PoolKeyedFrames.padBytes, alignment: 8)
        defer {
            frame.deallocate()
            hashKey.deallocate()
            pad.deallocate()
        }
        var keys = CounterKeySupply()
        try! keys.draw(into: hashKey)
        let noPayload = UnsafeRawBufferPointer(start: nil, count: 0)
        var outgoing = message
        var sequence: UInt64 = 4 * 10_000
        var checksum: UInt64 = 0

        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            sequence &+= 1
            outgoing.sequence = sequence
            do throws(WireError) {
                try keys.draw(into: pad)
                let length = try PoolKeyedFrames.seal(
                    outgoing, payload: noPayload, hashKey: UnsafeRawBufferPointer(hashKey), hashKeyIndex: 9_999,
                    pad: UnsafeRawBufferPointer(pad), into: frame)
                let bytes = UnsafeRawBufferPointer(start: frame.baseAddress, count: length)
                let header = try PoolKeyedFrames.header(of: bytes)
                let decoded = try PoolKeyedFrames.open(
                    bytes, header: header, hashKey: UnsafeRawBufferPointer(hashKey), pad: UnsafeRawBufferPointer(pad))
                checksum &+= decoded.message.sequence &+ UInt64(decoded.message.units.runCount)
            } catch {
                fatalError("benchmark frame refused: \(error)")
            }
        }
        benchmark.stopMeasurement()
        blackHole(checksum)
    }
}
