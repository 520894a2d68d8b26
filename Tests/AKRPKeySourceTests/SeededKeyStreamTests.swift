import AKRPEngine
import Testing

@testable import AKRPKeySource

@Suite struct SeededKeyStreamTests {
    @Test func sha256MatchesTheStandardVectors() {
        func digest(_ text: String) -> String {
            var out = [UInt8](repeating: 0, count: 32)
            Array(text.utf8).withUnsafeBytes { m in out.withUnsafeMutableBytes { SHA256Block.hash(m, into: $0) } }
            return hex(out)
        }
        #expect(digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(digest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    /// The vectors were produced by Hardware/emulator/qkd_emulator.py's `unit_bytes`: the
    /// emulated devices and the simulated ones must agree byte for byte.
    @Test(arguments: [
        (UInt64(1), UInt32(1), UInt32(2), UInt64(0), 32,
         "2fccb4dee9ea4b9a7a1969e8c1ce658e56b10583cc3624be54227cdd38fc4a9d"),
        (UInt64(7), UInt32(3), UInt32(9), UInt64(123_456_789), 40,
         "4e3769d5a6071c293e7a55271f72fcb79a0e970270841b11640f9cf4b06a0d782aa429f68d9f651b"),
    ])
    func streamMatchesTheEmulator(seed: UInt64, low: UInt32, high: UInt32, index: UInt64, size: Int, expected: String) {
        let stream = SeededKeyStream(seed: seed, link: LinkID(NodeID(low), NodeID(high)))
        var out = [UInt8](repeating: 0, count: size)
        out.withUnsafeMutableBytes { stream.fill(firstIndex: index, unitCount: 1, unitSize: size, into: $0) }
        #expect(hex(out) == expected)
    }
}
