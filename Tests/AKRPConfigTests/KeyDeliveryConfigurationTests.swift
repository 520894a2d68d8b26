import AKRPConfig
import AKRPEngine
import Testing

/// `[key-delivery]` and `[sae ID]`: parsed, validated with errors at their lines, rendered and imaged back.
@Suite struct KeyDeliveryConfigurationTests {
    static let sections = """

        [key-delivery]
        listen = 127.0.0.1:8443
        certificate = /etc/akrpd/box.pem
        private-key = /etc/akrpd/box-key.pem
        client-ca = /etc/akrpd/ca.pem
        metrics-listen = 127.0.0.1:9464
        enc-wait-ms = 1500
        revoked = sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff

        [sae alice]
        node = beta
        subject = CN=alice
        stock-for = bob

        [sae bob]
        node = 1
        fingerprint = 00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff

        """

    @Test func sectionsAreReadAndRoundTrip() throws {
        let c = try ConfigurationText.parse(Fixtures.base + Self.sections)
        let k = try #require(c.keyDelivery)
        #expect(k.listen == NetworkAddress(host: "127.0.0.1", port: 8443))
        #expect(k.encWait == 1_500_000_000)
        #expect(k.metricsListen?.port == 9464)
        #expect(k.revoked.count == 1 && k.revoked[0][1] == 0x11)
        #expect(c.saes.map(\.id) == ["alice", "bob"])
        #expect(c.saes[0].node == NodeID(2) && c.saes[0].subject == "CN=alice" && c.saes[0].stockFor == ["bob"])
        #expect(c.saes[1].fingerprint?.count == 32 && c.saes[1].fingerprint?[31] == 0xFF)
        #expect(try ConfigurationText.parse(ConfigurationText.render(c)) == c)
        let image = ConfigurationImage.encode(c)
        #expect(try ConfigurationImage.decode(image) == c)
        let json = ConfigurationJSON.render(c)
        #expect(json.contains("\"encWaitNanoseconds\": 1500000000") && json.contains("\"stockFor\": [\n"))
        #expect(json.contains("sha256:00112233"))
    }

    @Test func withoutTheSectionsNothingChanges() throws {
        let c = try ConfigurationText.parse(Fixtures.base)
        #expect(c.keyDelivery == nil && c.saes.isEmpty)
        #expect(ConfigurationJSON.render(c).contains("\"keyDelivery\": null"))
    }

    @Test func errorsNameLineSectionAndField() throws {
        let text = Fixtures.base + Self.sections.replacingOccurrences("enc-wait-ms = 1500", "max-key-size = 257")
        #expect(throws: ConfigurationFileError.self) { try ConfigurationText.parse(text) }
        do {
            _ = try ConfigurationText.parse(text)
        } catch {
            #expect("\(error)".contains("key-delivery") && "\(error)".contains("max-key-size") && "\(error)".contains("multiple of 8"))
        }
        let unknownSlave = Fixtures.base + Self.sections.replacingOccurrences("stock-for = bob", "stock-for = bobby")
        do {
            _ = try ConfigurationText.parse(unknownSlave)
            Issue.record("accepted a stock for an unknown SAE")
        } catch {
            #expect("\(error)".contains("sae alice") && "\(error)".contains("stock-for"))
        }
        let local = Fixtures.base + Self.sections.replacingOccurrences("subject = CN=alice\n", "")
        do {
            _ = try ConfigurationText.parse(local)
            Issue.record("accepted a local SAE without subject or fingerprint")
        } catch {
            #expect("\(error)".contains("sae alice"))
        }
    }
}

extension String {
    func replacingOccurrences(_ a: String, _ b: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: a) {
            out += rest[..<r.lowerBound] + b
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
