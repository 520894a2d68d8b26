import AKRPConfig
import AKRPEngine
import AKRPTestSupport
import Foundation
import Testing

/// A scratch directory removed at the end of the test.
final class ScratchDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("akrp-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = url.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

@Suite struct ConfigurationFileTests {
    @Test func loadsTextAndImageAlike() throws {
        let dir = try ScratchDirectory()
        let text = try dir.write("box.conf", Array(Fixtures.fullExample.utf8))
        let crlf = try dir.write(
            "box-crlf.conf", Array(Fixtures.fullExample.replacing("\n", with: "\r\n").utf8))
        let image = try dir.write("box.img", ConfigurationImage.encode(Fixtures.fullExampleValue))
        #expect(try NodeConfiguration.load(contentsOf: text) == Fixtures.fullExampleValue)
        #expect(try NodeConfiguration.load(contentsOf: crlf) == Fixtures.fullExampleValue)
        #expect(try NodeConfiguration.load(contentsOf: image) == Fixtures.fullExampleValue)
        #expect(try ConfigurationFile.load(text).format == .text)
        #expect(try ConfigurationFile.load(image).format == .image)
    }

    @Test func errorsNameThePath() throws {
        let dir = try ScratchDirectory()
        let bad = try dir.write("bad.conf", Array(Fixtures.replacing(14, with: "address = x").utf8))
        #expect(throws: ConfigurationFileError.inFile(
            path: bad,
            .invalidValue(line: 14, section: "neighbour 1", field: "address", reason: "must be host:port or [IPv6]:port, got 'x'"))) {
            try NodeConfiguration.load(contentsOf: bad)
        }
        let empty = try dir.write("empty.conf", [])
        do {
            _ = try NodeConfiguration.load(contentsOf: empty)
            Issue.record("empty file accepted")
        } catch {
            #expect(error.description == "\(empty): empty file: no settings (only blank lines and comments)")
        }
        var image = ConfigurationImage.encode(Fixtures.fullExampleValue)
        image[60] ^= 1
        let damaged = try dir.write("damaged.img", image)
        #expect(throws: ConfigurationFileError.image(path: damaged, .checksumMismatch)) {
            try NodeConfiguration.load(contentsOf: damaged)
        }
        let missing = dir.url.appendingPathComponent("absent.conf").path
        #expect(throws: ConfigurationFileError.unreadable(path: missing, reason: "No such file or directory")) {
            try NodeConfiguration.load(contentsOf: missing)
        }
        #expect(throws: ConfigurationFileError.unreadable(path: dir.url.path, reason: "not a regular file")) {
            try NodeConfiguration.load(contentsOf: dir.url.path)
        }
    }

    @Test func filesOverOneMebibyteAreRefused() throws {
        let dir = try ScratchDirectory()
        let padding = [UInt8](repeating: UInt8(ascii: "#"), count: ConfigurationFile.maximumSize - Fixtures.base.utf8.count)
        let atLimit = try dir.write("limit.conf", Array(Fixtures.base.utf8) + padding)
        #expect(try NodeConfiguration.load(contentsOf: atLimit) == Fixtures.fullExampleValue)
        let over = try dir.write("over.conf", Array(Fixtures.base.utf8) + padding + [0x0A])
        #expect(throws: ConfigurationFileError.tooLarge(path: over, bytes: ConfigurationFile.maximumSize + 1, limit: 1 << 20)) {
            try NodeConfiguration.load(contentsOf: over)
        }
    }
}

/// The built `akrpctl` (beside the test bundle, or `$AKRPCTL`).
let akrpctl = BuiltCommand("akrpctl", environment: "AKRPCTL")

/// `akrpctl config` through the built binary.
@Suite(.enabled(if: akrpctl.available, "akrpctl is not built beside the tests"))
struct AKRPCtlConfigTests {
    func run(_ arguments: [String]) throws -> (status: Int32, output: String) { try akrpctl.run(arguments) }

    @Test func checkCompileAndShow() throws {
        let dir = try ScratchDirectory()
        let text = try dir.write("box.conf", Array(Fixtures.fullExample.utf8))
        let image = dir.url.appendingPathComponent("box.img").path

        let check = try run(["config", "check", text])
        #expect(check.status == 0)
        #expect(check.output == "\(text): valid (node 2 'beta', 2 neighbours, 2 links)\n")

        let compile = try run(["config", "compile", text, "-o", image])
        #expect(compile.status == 0, "\(compile.output)")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: image)))
        #expect(bytes == ConfigurationImage.encode(Fixtures.fullExampleValue))
        #expect(compile.output.contains("\(bytes.count) bytes"))
        #expect(compile.output.contains(hex(ConfigurationImage.sha256(bytes))))

        let checkImage = try run(["config", "check", image])
        #expect(checkImage.output == "\(image): valid (node 2 'beta', 2 neighbours, 2 links)\n")

        let show = try run(["config", "show", image])
        #expect(show.status == 0)
        #expect(try ConfigurationText.parse(show.output) == Fixtures.fullExampleValue)

        let json = try run(["config", "show", text, "--json"])
        #expect(json.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        #expect(object?["node"] as? Int == 2)
        let engine = object?["engine"] as? [String: Any]
        #expect(engine?["authenticationReserve"] as? Int == 16)
        #expect(engine?["latencyBudgetNanoseconds"] as? Int == 900_000_000)
        let neighbours = object?["neighbours"] as? [[String: Any]]
        #expect(neighbours?.count == 2)
        #expect((neighbours?.first?["source"] as? [String: Any])?["kind"] as? String == "simulated")
    }

    @Test func checkReportsTheErrorWithStatusOne() throws {
        let dir = try ScratchDirectory()
        let bad = try dir.write("bad.conf", Array(Fixtures.inserting("rate = fast", after: 17).utf8))
        let check = try run(["config", "check", bad])
        #expect(check.status == 1)
        #expect(check.output.contains(
            "\(bad): line 18: [neighbour 1] field 'rate': must be a positive integer (bits per second), got 'fast'"))
        let compile = try run(["config", "compile", bad, "-o", dir.url.appendingPathComponent("x.img").path])
        #expect(compile.status == 1)
        #expect(!FileManager.default.fileExists(atPath: dir.url.appendingPathComponent("x.img").path))
    }
}
