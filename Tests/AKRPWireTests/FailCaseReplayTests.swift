import AKRPEngine
import AKRPWire
import Foundation
import Testing

/// Replays every input that ever crashed the fuzz target (`FailCases/`, filled by `tools/fuzz-wire`)
/// through the same entry points. A regression traps here.
struct FailCaseReplayTests {
    static func cases() -> [String] {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("FailCases")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted()
    }

    @Test func folderIsThere() {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("FailCases")
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("README.md").path))
    }

    @Test(arguments: cases())
    func replay(_ name: String) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("FailCases/\(name)")
        let input = [UInt8](try Data(contentsOf: url))
        _ = try? decode(input)
        _ = try? decodeControl(input)
        var verifier = FrameVerifier(from: NodeID(1), to: NodeID(2))
        var keys = SequentialKeySupply()
        _ = try? open(input, verifier: &verifier, keys: &keys)
        var stream = FrameStreamDecoder(maximumFrameSize: 4096)
        input.withUnsafeBytes { bytes in
            var rest = bytes
            while !rest.isEmpty {
                guard let taken = try? stream.append(rest) else { return }
                rest = UnsafeRawBufferPointer(rebasing: rest[taken...])
                while true {
                    guard let frame = try? stream.nextFrame() else { return }
                    _ = try? MessageCodec.decode(frame)
                }
            }
        }
    }
}
