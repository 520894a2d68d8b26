import AKRPEngine
import AKRPTestSupport
import AKRPWire
import Foundation
import Testing

let decodeCtl = BuiltCommand("akrpctl", environment: "AKRPCTL")

/// `akrpctl decode` through the built binary: key bytes redacted unless asked for, standard input, empty input.
@Suite(.enabled(if: decodeCtl.available, "akrpctl is not built beside the tests"))
struct DecodeCommandTests {
    /// A key response carrying 32 key bytes 0xA0…0xBF.
    static func keyResponse() throws -> [UInt8] {
        var m = ControlMessage(kind: .keyResponse, from: NodeID(1), correlation: 7)
        m.status = 0
        m.request = RequestID(source: NodeID(1), serial: 9)
        m.dataLength = 32
        m.keyLength = 32
        let key = (0..<32).map { UInt8(0xA0 + $0) }
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { out.deallocate() }
        let n = try key.withUnsafeBytes { try ControlCodec.encode(m, data: $0, into: out) }
        return Array(out[0..<n])
    }

    static func file(_ bytes: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "akrp-decode-\(UUID().uuidString).bin"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func keyBytesAreRedactedUnlessAsked() throws {
        let path = try Self.file(try Self.keyResponse())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let keyHex = "a0a1a2a3a4a5a6a7"
        let plain = try decodeCtl.run(["decode", path])
        #expect(plain.status == 0, "\(plain.output)")
        #expect(plain.output.contains("redacted (32 bytes of key"))
        #expect(!plain.output.contains(keyHex))
        let json = try decodeCtl.run(["decode", "--json", path])
        #expect(json.status == 0 && !json.output.contains(keyHex))
        let shown = try decodeCtl.run(["decode", "--show-key", path])
        #expect(shown.status == 0 && shown.output.contains(keyHex))
    }

    @Test func standardInputAndEmptyInput() throws {
        let path = try Self.file(try Self.keyResponse())
        let empty = try Self.file([])
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: empty)
        }
        let sh = BuiltCommand(path: "/bin/sh")
        let piped = try sh.run(["-c", "'\(decodeCtl.path)' decode - < '\(path)'"])
        #expect(piped.status == 0 && piped.output.contains("redacted (32 bytes of key"), "\(piped.output)")
        let omitted = try sh.run(["-c", "'\(decodeCtl.path)' decode --json < '\(path)'"])
        #expect(omitted.status == 0, "\(omitted.output)")
        let emptyFile = try decodeCtl.run(["decode", empty])
        #expect(emptyFile.status == 1 && emptyFile.output.contains("is empty"), "\(emptyFile.output)")
        let emptyStdin = try sh.run(["-c", "'\(decodeCtl.path)' decode < /dev/null"])
        #expect(emptyStdin.status == 1 && emptyStdin.output.contains("standard input is empty"), "\(emptyStdin.output)")
        let emptyHex = try decodeCtl.run(["decode", "--hex", " "])
        #expect(emptyHex.status == 1 && emptyHex.output.contains("no bytes given"))
    }
}
