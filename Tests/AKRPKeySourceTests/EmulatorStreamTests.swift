import AKRPEngine
import AKRPKeySource
import Foundation
import Testing

/// The USB emulator's stream (Hardware/emulator/qkd_keystream.py, Python) and ``SeededKeyStream``
/// (Swift) are one definition written twice: this runs the Python one and compares.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "needs /usr/bin/python3"))
struct EmulatorStreamTests {
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Hardware/emulator/qkd_keystream.py").path

    /// Units `first ..< first + count` as the emulator makes them, in hex, one per unit.
    static func emulatorUnits(seed: UInt64, low: UInt32, high: UInt32, first: UInt64, count: Int, unitSize: Int) throws
        -> [String]
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script] + ["\(seed)", "\(low)", "\(high)", "\(first)", "\(count)", "\(unitSize)"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test(arguments: [
        (UInt64(1), UInt32(1), UInt32(2), UInt64(0), 64, 32),
        (UInt64.max, UInt32(7), UInt32(4_000_000_000), UInt64(1) << 40, 16, 100),
        (UInt64(42), UInt32(3), UInt32(9), UInt64(123_456_789), 8, 1),
        (UInt64(0x5EED), UInt32(10), UInt32(20), UInt64(1) << 63, 3, 4096),
    ])
    func swiftAndPythonStreamsAgree(
        seed: UInt64, low: UInt32, high: UInt32, first: UInt64, count: Int, unitSize: Int
    ) throws {
        let python = try Self.emulatorUnits(seed: seed, low: low, high: high, first: first, count: count, unitSize: unitSize)
        var swift = [UInt8](repeating: 0, count: count * unitSize)
        swift.withUnsafeMutableBytes {
            SeededKeyStream(seed: seed, link: LinkID(NodeID(low), NodeID(high)))
                .fill(firstIndex: first, unitCount: count, unitSize: unitSize, into: $0)
        }
        let units = (0..<count).map { hex(swift[($0 * unitSize)..<(($0 + 1) * unitSize)]) }
        #expect(python.count == count)
        #expect(python == units)
    }
}
