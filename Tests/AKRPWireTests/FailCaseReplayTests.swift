import AKRPEngine
import AKRPWire
import Foundation
import Testing

/// Replays every input that ever crashed the fuzz target (`FailCases/`, filled by `tools/fuzz-wire`)
/// through the same entry points, and checks that each one is refused with the exact typed error it
/// must produce — not only that nothing traps. A new case needs its expected errors in
/// ``FailCaseReplayTests/expected`` (the failure message prints what the entry points said).
struct FailCaseReplayTests {
    /// What each entry point says about one input: the typed error, or nil when it accepted the input
    /// (for the stream decoder: when it asked for more bytes without failing).
    struct Outcome: Equatable, CustomStringConvertible {
        var decode: WireError?
        var decodeControl: WireError?
        var open: WireError?
        var stream: WireError?
        var description: String {
            "decode: \(decode.map { "\($0)" } ?? "accepted"), decodeControl: \(decodeControl.map { "\($0)" } ?? "accepted"), "
                + "open: \(open.map { "\($0)" } ?? "accepted"), stream: \(stream.map { "\($0)" } ?? "no error")"
        }
    }

    /// The errors each case must produce.
    static let expected: [String: Outcome] = [
        // A RESERVE header declaring a body of 0xffffffff bytes: the length is capped before anything is
        // read or buffered, by every entry point: 28 (header) + 0xffffffff + 16 (tag) bytes.
        "handmade-length-max.bin": Outcome(
            decode: .frameTooLarge(28 + 0xFFFF_FFFF + 16), decodeControl: .frameTooLarge(28 + 0xFFFF_FFFF + 16),
            open: .frameTooLarge(28 + 0xFFFF_FFFF + 16), stream: .frameTooLarge(28 + 0xFFFF_FFFF + 16)),
        // A RESERVE whose path declares 255 nodes: refused by the count before 1,020 bytes are skipped;
        // a control decoder does not know type 3; the verifier checks the (zero) tag before the body.
        "handmade-path-count-255.bin": Outcome(
            decode: .invalidPath(.tooLong), decodeControl: .unknownType(3), open: .authenticationFailed,
            stream: .invalidPath(.tooLong)),
    ]

    static func cases() -> [String] {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("FailCases")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted()
    }

    @Test func folderIsThere() {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("FailCases")
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("README.md").path))
        #expect(!Self.cases().isEmpty)
    }

    /// Runs `input` through the four entry points the fuzz target drives.
    static func outcome(of input: [UInt8]) -> Outcome {
        var outcome = Outcome()
        do throws(WireError) { _ = try decode(input) } catch { outcome.decode = error }
        do throws(WireError) { _ = try decodeControl(input) } catch { outcome.decodeControl = error }
        var verifier = FrameVerifier(from: NodeID(1), to: NodeID(2))
        var keys = SequentialKeySupply()
        do throws(WireError) { _ = try open(input, verifier: &verifier, keys: &keys) } catch { outcome.open = error }
        var stream = FrameStreamDecoder(maximumFrameSize: 4096)
        input.withUnsafeBytes { bytes in
            var rest = bytes
            while !rest.isEmpty {
                let taken: Int
                do throws(WireError) { taken = try stream.append(rest) } catch {
                    outcome.stream = error
                    return
                }
                rest = UnsafeRawBufferPointer(rebasing: rest[taken...])
                while true {
                    do throws(WireError) {
                        guard let frame = try stream.nextFrame() else { break }
                        do throws(WireError) { _ = try MessageCodec.decode(frame) } catch {
                            outcome.stream = error
                            return
                        }
                    } catch {
                        outcome.stream = error
                        return
                    }
                }
                if taken == 0 { return }
            }
        }
        return outcome
    }

    @Test(arguments: cases())
    func replay(_ name: String) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("FailCases/\(name)")
        let input = [UInt8](try Data(contentsOf: url))
        let observed = Self.outcome(of: input)
        let expected = try #require(Self.expected[name], "no expected errors for \(name); observed \(observed)")
        #expect(observed == expected)
    }
}
