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
