import AKRPTestSupport
import Foundation
import Testing

/// `akrpctl devices`, `device info` and `device flash` against emulated devices, through the
/// built binary (`$AKRPCTL`, or `akrpctl` beside the test bundle). Part of ``DeviceTests``, so that
/// it never runs while another device test uses the emulator: the emulator serves one client at a
/// time well, and a test process spawning akrpctl while it streams was seen to lose its emulator
/// connection.
extension DeviceTests {
    static let akrpctlCommand = BuiltCommand("akrpctl", environment: "AKRPCTL")
    static var akrpctl: String { akrpctlCommand.path }

    func runAKRPCtl(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try Self.akrpctlCommand.run(arguments)
    }

    @Test func listsInspectsAndFlashesDevices() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.akrpctl), "akrpctl not built at \(Self.akrpctl)")
        let (a, b) = try Emulator.addLink(191, 192)
        defer { _ = try? Emulator.send("remove-link 191 192") }
        let list = try runAKRPCtl(["devices", "--json"])
        #expect(list.status == 0)
        #expect(list.output.contains("\"serial\":\"\(a)\"") && list.output.contains("\"serial\":\"\(b)\""))
        #expect(list.output.contains("\"link\":\"191-192\""))
        let info = try runAKRPCtl(["device", "info", "--serial", b])
        #expect(info.status == 0 && info.output.contains("local node 192, peer 191"))

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("akrpctl-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = directory.appendingPathComponent("good.conf")
        try "link = 191-192\nlocal-node = 191\nframe-units = 64\nlabel = \"from the test\"\n".write(to: good, atomically: true, encoding: .utf8)
        let flashed = try runAKRPCtl(["device", "flash", "--serial", a, good.path])
        #expect(flashed.status == 0 && flashed.output.contains("read back and verified"), "\(flashed.output)")
        let after = try runAKRPCtl(["device", "info", "--serial", a, "--json"])
        #expect(after.output.contains("from the test") && after.output.contains("\"configurationGeneration\":2"))

        let bad = directory.appendingPathComponent("bad.conf")
        try "link = 191-192\nlocal-node = 193\n".write(to: bad, atomically: true, encoding: .utf8)
        let refused = try runAKRPCtl(["device", "flash", "--serial", a, bad.path])
        #expect(refused.status != 0 && refused.output.contains("line 2: field 'local-node'"), "\(refused.output)")
        let unchanged = try runAKRPCtl(["device", "info", "--serial", a, "--json"])
        #expect(unchanged.output.contains("\"configurationGeneration\":2"))
    }
}
