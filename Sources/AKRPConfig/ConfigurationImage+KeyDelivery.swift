import AKRPEngine

// The `[key-delivery]` and `[sae ID]` sections at the end of the image body (docs/CONFIG.md).
extension ConfigurationImage {
    static func encodeKeyDelivery(_ c: NodeConfiguration, into w: inout ImageWriter) {
        func address(_ a: NetworkAddress) {
            w.string(a.host)
            w.u16(a.port)
        }
        func fingerprint(_ f: [UInt8]) { for b in f.prefix(32) { w.u8(b) } }
        if let k = c.keyDelivery {
            w.bool(true)
            address(k.listen)
            w.string(k.certificate)
            w.string(k.privateKey)
            w.string(k.clientCA)
            w.count(k.revoked.count)
            for f in k.revoked { fingerprint(f) }
            w.bool(k.metricsListen != nil)
            if let m = k.metricsListen { address(m) }
            for v in [k.stockRequestBits, k.stockDepth] { w.i64(v) }
            w.u64(k.encWait)
            for v in [k.defaultKeySize, k.maxKeySize, k.minKeySize, k.maxKeysPerRequest, k.heldRelays] { w.i64(v) }
            w.u64(k.heldExpiry)
            for v in [k.maxConnections, k.maxBodyBytes] { w.i64(v) }
            w.u64(k.idleTimeout)
        } else {
            w.bool(false)
        }
        w.count(c.saes.count)
        for s in c.saes {
            w.string(s.id)
            w.u32(s.node.rawValue)
            w.bool(s.subject != nil)
            if let subject = s.subject { w.string(subject) }
            w.bool(s.fingerprint != nil)
            if let f = s.fingerprint { fingerprint(f) }
            w.count(s.stockFor.count)
            for slave in s.stockFor { w.string(slave) }
        }
    }

    static func decodeKeyDelivery(_ r: inout ImageReader, into c: inout NodeConfiguration) throws(ConfigurationImageError) {
        let maxString = maximumStringBytes
        func address(_ field: String, _ r: inout ImageReader) throws(ConfigurationImageError) -> NetworkAddress {
            let host = try r.string(field, maximum: maxString)
            return NetworkAddress(host: host, port: try r.u16(field))
        }
        func fingerprint(_ field: String, _ r: inout ImageReader) throws(ConfigurationImageError) -> [UInt8] {
            var f: [UInt8] = []
            f.reserveCapacity(32)
            for _ in 0..<32 { f.append(try r.u8(field)) }
            return f
        }
        if try r.bool("key-delivery") {
            let listen = try address("listen", &r)
            var k = KeyDeliverySettings(
                listen: listen, certificate: try r.string("certificate", maximum: maxString),
                privateKey: try r.string("private-key", maximum: maxString),
                clientCA: try r.string("client-ca", maximum: maxString))
            let revoked = try r.count("revoked", maximum: KeyDeliveryLimits.revoked.upperBound, itemSize: 32)
            for _ in 0..<revoked { k.revoked.append(try fingerprint("revoked", &r)) }
            if try r.bool("metrics-listen") { k.metricsListen = try address("metrics-listen", &r) }
            k.stockRequestBits = try r.i64("stock-request-bits")
            k.stockDepth = try r.i64("stock-depth")
            k.encWait = try r.u64("enc-wait-ms")
            k.defaultKeySize = try r.i64("default-key-size")
            k.maxKeySize = try r.i64("max-key-size")
            k.minKeySize = try r.i64("min-key-size")
            k.maxKeysPerRequest = try r.i64("max-keys-per-request")
            k.heldRelays = try r.i64("held-relays")
            k.heldExpiry = try r.u64("held-expiry-s")
            k.maxConnections = try r.i64("max-connections")
            k.maxBodyBytes = try r.i64("max-body-bytes")
            k.idleTimeout = try r.u64("idle-timeout-ms")
            c.keyDelivery = k
        }
        let count = try r.count("sae", maximum: 65_535, itemSize: 11)
        for _ in 0..<count {
            let id = try r.string("sae", maximum: maxString)
            var s = SAERegistration(id: id, node: NodeID(try r.u32("node")))
            if try r.bool("subject") { s.subject = try r.string("subject", maximum: maxString) }
            if try r.bool("fingerprint") { s.fingerprint = try fingerprint("fingerprint", &r) }
            let slaves = try r.count("stock-for", maximum: 65_535, itemSize: 4)
            for _ in 0..<slaves { s.stockFor.append(try r.string("stock-for", maximum: maxString)) }
            c.saes.append(s)
        }
    }
}

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
