import AKRPManagement
import Foundation
import Testing

/// Replays every input that ever tripped the SMP fuzz target (`FailCases/`, filled by `tools/fuzz-smp`)
/// and the fuzz seeds through the same decoders; a regression traps or fails here.
struct FailCaseReplayTests {
    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let seeds = here.appendingPathComponent("../../FuzzTesting/Corpus/FuzzSMPDecoder").standardized

    static func files(_ folder: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted().map { folder.appendingPathComponent($0).path }
    }

    static func cases() -> [String] { files(here.appendingPathComponent("FailCases")) + files(seeds) }

    @Test func seedsAreThere() { #expect(Self.files(Self.seeds).count >= 10) }

    @Test(arguments: cases())
    func replay(_ path: String) throws {
        let input = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        if let value = try? CBORDecoder.decode(input) {
            #expect(try CBORDecoder.decode(try CBOREncoder.encode(value)) == value)
        }
        let d = SMPDispatcher()
        d.register(group: 0, command: 0, write: { r in r["d"]?.textValue.map { .answer([("r", .text($0))]) } ?? .error(.invalidValue) })
        if case .success(let answer) = d.handle(input) {
            let h = try #require(SMPHeader(answer))
            #expect(Int(h.length) == answer.count - SMPHeader.size)
        }
        var serial = SerialFrameDecoder()
        for case .packet(let p) in serial.feed(input) { _ = d.handle(p) }
        _ = Base64.decode(input)
        _ = try? MCUbootImage(parsing: input)
    }
}
