import AKRPEngine
import AKRPWire
import Testing

struct FrameStreamDecoderTests {
    /// Feeds `stream` in pieces of the given sizes and collects the frames.
    func frames(_ stream: [UInt8], pieces: [Int], decoder: inout FrameStreamDecoder) throws(WireError) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var offset = 0
        var p = 0
        var failure: WireError?
        stream.withUnsafeBytes { all in
            while offset < all.count, failure == nil {
                let size = min(pieces[p % pieces.count], all.count - offset)
                p += 1
                var rest = UnsafeRawBufferPointer(rebasing: all[offset..<(offset + size)])
                offset += size
                do throws(WireError) {
                    while !rest.isEmpty {
                        let taken = try decoder.append(rest)
                        rest = UnsafeRawBufferPointer(rebasing: rest[taken...])
                        while let frame = try decoder.nextFrame() { out.append(Array(frame)) }
                    }
                } catch {
                    failure = error
                }
            }
        }
        if let failure { throw failure }
        return out
    }

    func sampleFrames(count: Int) throws -> [[UInt8]] {
        var g = SplitMix64(seed: 77)
        return try (0..<count).map { i in
            let (m, payload) = randomMessage(MessageKind.allCases[i % MessageKind.allCases.count], using: &g)
            return try encodeUnsealed(m, payload: payload)
        }
    }

    @Test(arguments: [[1], [7], [28], [29, 3], [1000], [100_000], [5, 64, 1, 300]])
    func splitsAnyWay(_ pieces: [Int]) throws {
        let sent = try sampleFrames(count: 40)
        var decoder = FrameStreamDecoder(maximumFrameSize: 1024)
        let received = try frames(sent.flatMap { $0 }, pieces: pieces, decoder: &decoder)
        #expect(received == sent)
        let left = decoder.bufferedByteCount
        #expect(left == 0)
    }

    @Test func oversizedFrameFailsFromItsHeader() throws {
        var g = SplitMix64(seed: 1)
        var (m, _) = randomMessage(.share, using: &g)
        let payload = [UInt8](repeating: 9, count: 2000)
        m.payloadLength = 2000
        let big = try encodeUnsealed(m, payload: payload)
        var decoder = FrameStreamDecoder(maximumFrameSize: 1024)
        // Only the header is offered: the length is refused before any body byte arrives.
        #expect(throws: WireError.frameTooLarge(big.count)) {
            try frames(Array(big[0..<28]), pieces: [28], decoder: &decoder)
        }
        #expect(throws: WireError.streamFailed) { try frames([0x41], pieces: [1], decoder: &decoder) }
    }

    @Test func garbageFailsTheStream() throws {
        var decoder = FrameStreamDecoder()
        #expect(throws: WireError.badMagic) {
            try frames([UInt8](repeating: 0x20, count: 40), pieces: [40], decoder: &decoder)
        }
    }

    @Test func partialFrameWaits() throws {
        let sent = try sampleFrames(count: 2)
        var decoder = FrameStreamDecoder()
        let partial = Array(sent[0] + sent[1].prefix(30))
        let received = try frames(partial, pieces: [partial.count], decoder: &decoder)
        #expect(received == [sent[0]])
        let waiting = decoder.bufferedByteCount
        #expect(waiting == 30)
    }
}
