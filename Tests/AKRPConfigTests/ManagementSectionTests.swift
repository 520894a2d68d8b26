import AKRPConfig
import AKRPEngine
import Testing

/// The `[management]` section: parsed, rendered, carried by the image, errors at their line.
@Suite struct ManagementSectionTests {
    static let section = """

        [management]
        socket = "/run/akrpd/mgmt.sock"
        udp = 0.0.0.0:1338
        serial = /dev/ttyGS0
        confirm-timeout-s = 45
        image-keys = 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff, FFEEDDCCBBAA99887766554433221100FFEEDDCCBBAA99887766554433221100

        """

    static func withSection(_ text: String) -> String {
        Fixtures.fullExample.replacing("\n[topology]", with: text + "\n[topology]", maxReplacements: 1)
    }

    @Test func parsedRenderedAndImaged() throws {
        let c = try ConfigurationText.parse(Self.withSection(Self.section))
        #expect(c.management.socket == "/run/akrpd/mgmt.sock")
        #expect(c.management.udp == NetworkAddress(host: "0.0.0.0", port: 1338))
        #expect(c.management.serial == "/dev/ttyGS0")
        #expect(c.management.confirmTimeout == 45_000_000_000)
        #expect(c.management.imageKeys.count == 2 && c.management.imageKeys[1][0] == 0xFF && c.management.imageKeys[0][31] == 0xFF)
        #expect(try ConfigurationText.parse(ConfigurationText.render(c)) == c)
        #expect(try ConfigurationImage.decode(ConfigurationImage.encode(c)) == c)
        #expect(ConfigurationJSON.render(c).contains("\"management\""))
        // Without the section: defaults, and the image is the same bytes as before the section existed.
        let plain = try ConfigurationText.parse(Fixtures.fullExample)
        #expect(plain.management == ManagementSettings())
        #expect(plain.management.socketPath(controlSocket: "/run/akrpd/control.sock") == "/run/akrpd/smp.sock")
        #expect(ConfigurationImage.encode(c).count > ConfigurationImage.encode(plain).count)
        #expect(try ConfigurationImage.decode(ConfigurationImage.encode(plain)) == plain)
        #expect(!ConfigurationText.render(plain).contains("[management]"))
    }

    @Test func udpOff() throws {
        let c = try ConfigurationText.parse(Self.withSection("\n[management]\nudp = off\n"))
        #expect(c.management.udp == nil)
        #expect(try ConfigurationImage.decode(ConfigurationImage.encode(c)) == c)
    }

    @Test(arguments: [
        ("udp = nowhere", "udp"), ("confirm-timeout-s = 0", "confirm-timeout-s"), ("confirm-timout-s = 5", "confirm-timeout-s"),
        ("image-keys = 0011", "image-keys"), ("image-keys = zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "image-keys"),
    ])
    func errorsNameTheField(_ line: String, _ field: String) {
        do {
            _ = try ConfigurationText.parse(Self.withSection("\n[management]\n\(line)\n"))
            Issue.record("accepted '\(line)'")
        } catch {
            #expect("\(error)".contains(field), "\(error)")
            #expect("\(error)".contains("management"), "\(error)")
        }
    }
}
