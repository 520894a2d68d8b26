import AKRPEngine

// The `[key-delivery]` and `[sae ID]` sections as normalized text and as JSON.
extension ConfigurationText {
    /// `[key-delivery]` and the `[sae ID]` sections as normalized text (empty when there are none).
    static func renderKeyDelivery(_ c: NodeConfiguration) -> String {
        var out = ""
        func line(_ field: String, _ value: String) { out += "\(field) = \(value)\n" }
        if let k = c.keyDelivery {
            out += "\n[key-delivery]\n"
            line("listen", k.listen.description)
            line("certificate", TextValue.formatString(k.certificate))
            line("private-key", TextValue.formatString(k.privateKey))
            line("client-ca", TextValue.formatString(k.clientCA))
            if !k.revoked.isEmpty { line("revoked", k.revoked.map(FingerprintText.format).joined(separator: ", ")) }
            if let m = k.metricsListen { line("metrics-listen", m.description) }
            line("stock-request-bits", "\(k.stockRequestBits)")
            line("stock-depth", "\(k.stockDepth)")
            line("enc-wait-ms", TextValue.milliseconds(k.encWait))
            line("default-key-size", "\(k.defaultKeySize)")
            line("max-key-size", "\(k.maxKeySize)")
            line("min-key-size", "\(k.minKeySize)")
            line("max-keys-per-request", "\(k.maxKeysPerRequest)")
            line("held-relays", "\(k.heldRelays)")
            line("held-expiry-s", TextValue.seconds(k.heldExpiry))
            line("max-connections", "\(k.maxConnections)")
            line("max-body-bytes", "\(k.maxBodyBytes)")
            line("idle-timeout-ms", TextValue.milliseconds(k.idleTimeout))
        }
        for s in c.saes {
            out += "\n[sae \(s.id)]\n"
            line("node", "\(s.node.rawValue)")
            if let subject = s.subject { line("subject", TextValue.formatString(subject)) }
            if let f = s.fingerprint { line("fingerprint", FingerprintText.format(f)) }
            if !s.stockFor.isEmpty { line("stock-for", s.stockFor.joined(separator: ", ")) }
        }
        return out
    }
}

extension ConfigurationJSON {
    private static func jsonAddress(_ a: NetworkAddress) -> JSONValue {
        .object([("host", .string(a.host)), ("port", .unsigned(UInt64(a.port)))])
    }

    /// `keyDelivery`: null without a `[key-delivery]` section; fingerprints as `sha256:` hex text.
    static func keyDeliveryJSON(_ c: NodeConfiguration) -> JSONValue {
        guard let k = c.keyDelivery else { return .null }
        return .object([
            ("listen", jsonAddress(k.listen)),
            ("certificate", .string(k.certificate)),
            ("privateKey", .string(k.privateKey)),
            ("clientCA", .string(k.clientCA)),
            ("revoked", .array(k.revoked.map { .string(FingerprintText.format($0)) })),
            ("metricsListen", k.metricsListen.map(jsonAddress) ?? .null),
            ("stockRequestBits", .signed(k.stockRequestBits)),
            ("stockDepth", .signed(k.stockDepth)),
            ("encWaitNanoseconds", .unsigned(k.encWait)),
            ("defaultKeySize", .signed(k.defaultKeySize)),
            ("maxKeySize", .signed(k.maxKeySize)),
            ("minKeySize", .signed(k.minKeySize)),
            ("maxKeysPerRequest", .signed(k.maxKeysPerRequest)),
            ("heldRelays", .signed(k.heldRelays)),
            ("heldExpiryNanoseconds", .unsigned(k.heldExpiry)),
            ("maxConnections", .signed(k.maxConnections)),
            ("maxBodyBytes", .signed(k.maxBodyBytes)),
            ("idleTimeoutNanoseconds", .unsigned(k.idleTimeout)),
        ])
    }

    /// `saes`: every `[sae ID]` section.
    static func saesJSON(_ c: NodeConfiguration) -> JSONValue {
        .array(
            c.saes.map { s in
                .object([
                    ("id", .string(s.id)), ("node", .unsigned(UInt64(s.node.rawValue))),
                    ("subject", s.subject.map(JSONValue.string) ?? .null),
                    ("fingerprint", s.fingerprint.map { .string(FingerprintText.format($0)) } ?? .null),
                    ("stockFor", .array(s.stockFor.map(JSONValue.string))),
                ])
            })
    }
}
