import AKRPEngine

extension ConfigurationSchema {
    static let keyDeliveryFields = [
        "listen", "certificate", "private-key", "client-ca", "revoked", "metrics-listen", "stock-request-bits",
        "stock-depth", "enc-wait-ms", "default-key-size", "max-key-size", "min-key-size", "max-keys-per-request",
        "held-relays", "held-expiry-s", "max-connections", "max-body-bytes", "idle-timeout-ms",
    ]
    static let saeFields = ["node", "subject", "fingerprint", "stock-for"]
}

/// The ranges of the `[key-delivery]` fields (docs/CONFIG.md).
public enum KeyDeliveryLimits {
    /// Bits of one stock top-up request (also bounded by the engine's largest request).
    public static let stockRequestBits: ClosedRange<Int> = 64...(65_535 * 8)
    /// `stock-depth`: relays a stock is kept topped up to (0: no stock kept).
    public static let stockDepth: ClosedRange<Int> = 0...1024
    /// `default-key-size`, `min-key-size`, `max-key-size`: key sizes in bits (also multiples of 8).
    public static let keySize: ClosedRange<Int> = 8...32_760
    /// `max-keys-per-request`: keys per `enc_keys` request (and key IDs per `dec_keys`).
    public static let keysPerRequest: ClosedRange<Int> = 1...4096
    /// `held-relays`: relayed keys held at this box for its slave SAEs.
    public static let heldRelays: ClosedRange<Int> = 1...1_000_000
    /// `max-connections`: simultaneous HTTPS connections.
    public static let connections: ClosedRange<Int> = 1...100_000
    /// `max-body-bytes`: largest request body, bytes (1 KiB…16 MiB).
    public static let bodyBytes: ClosedRange<Int> = 1024...(16 << 20)
    /// Length of an SAE ID (the `[sae ID]` section label), UTF-8 bytes.
    public static let saeIDBytes: ClosedRange<Int> = 1...64
    /// `revoked`: how many certificate fingerprints the list may hold.
    public static let revoked: ClosedRange<Int> = 0...4096
    /// Node IDs of boxes with SAEs: the node is carried in 16 bits of every key_ID.
    public static let saeNode: ClosedRange<UInt32> = 1...65_535
}

/// Hex fingerprints as written: `ab:cd:…` or `abcd…`, 32 bytes.
enum FingerprintText {
    static func parse(_ text: String) -> [UInt8]? {
        var t = Substring(text)
        if t.hasPrefix("sha256:") { t = t.dropFirst(7) }
        let digits = t.utf8.filter { $0 != UInt8(ascii: ":") }
        guard digits.count == 64 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        var high: UInt8? = nil
        for c in digits {
            let v: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        return out
    }

    static func format(_ bytes: [UInt8]) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var s: [UInt8] = Array("sha256:".utf8)
        for b in bytes {
            s.append(hex[Int(b >> 4)])
            s.append(hex[Int(b & 15)])
        }
        return String(decoding: s, as: UTF8.self)
    }
}

extension ConfigurationParser {
    /// `[key-delivery]` and every `[sae ID]` section.
    mutating func readKeyDelivery(into c: inout NodeConfiguration) throws(Failure) {
        if let section = map.keyDelivery {
            let r = ConfigurationFieldReader(section: section)
            var k = KeyDeliverySettings(
                listen: try r.address("listen", r.required("listen")), certificate: try r.required("certificate"),
                privateKey: try r.required("private-key"), clientCA: try r.required("client-ca"))
            if let revoked = r.text("revoked") {
                for word in revoked.split(separator: ",") {
                    let w = Substring(word).trimmingBlanks()
                    guard let f = FingerprintText.parse(w) else {
                        throw r.invalid("revoked", "must be comma-separated SHA-256 fingerprints (64 hex digits, optionally 'sha256:' and colons), got '\(w)'")
                    }
                    k.revoked.append(f)
                }
            }
            if let m = r.text("metrics-listen") { k.metricsListen = try r.address("metrics-listen", m) }
            typealias L = KeyDeliveryLimits
            try r.integer("stock-request-bits", L.stockRequestBits, "bits", into: &k.stockRequestBits)
            try r.integer("stock-depth", L.stockDepth, "relayed keys", into: &k.stockDepth)
            try r.duration("enc-wait-ms", Limits.duration, into: &k.encWait)
            try r.integer("default-key-size", L.keySize, "bits", into: &k.defaultKeySize)
            try r.integer("max-key-size", L.keySize, "bits", into: &k.maxKeySize)
            try r.integer("min-key-size", L.keySize, "bits", into: &k.minKeySize)
            try r.integer("max-keys-per-request", L.keysPerRequest, "keys", into: &k.maxKeysPerRequest)
            try r.integer("held-relays", L.heldRelays, "relayed keys", into: &k.heldRelays)
            try r.duration("held-expiry-s", Limits.positiveDuration, seconds: true, into: &k.heldExpiry)
            try r.integer("max-connections", L.connections, "connections", into: &k.maxConnections)
            try r.integer("max-body-bytes", L.bodyBytes, "bytes", into: &k.maxBodyBytes)
            try r.duration("idle-timeout-ms", Limits.positiveDuration, into: &k.idleTimeout)
            c.keyDelivery = k
        }
        for section in rawSAEs {
            guard case .sae(let id) = section.kind, let line = section.line, let label = section.label else { continue }
            if let first = map.saes.first(where: { $0.label == label }) {
                throw .duplicateSection(line: line, section: label, firstLine: first.line ?? 0)
            }
            let r = ConfigurationFieldReader(section: section)
            let reference = try r.required("node")
            guard let node = resolve(reference) else { throw r.invalid("node", unknownNodeReason(reference)) }
            var sae = SAERegistration(id: id, node: node)
            sae.subject = r.text("subject")
            if let f = r.text("fingerprint") {
                guard let bytes = FingerprintText.parse(f) else {
                    throw r.invalid("fingerprint", "must be a SHA-256 fingerprint (64 hex digits, optionally 'sha256:' and colons), got '\(f)'")
                }
                sae.fingerprint = bytes
            }
            if let slaves = r.text("stock-for") {
                sae.stockFor = slaves.split(separator: ",").map { Substring($0).trimmingBlanks() }.filter { !$0.isEmpty }
            }
            c.saes.append(sae)
            map.saes.append(section)
        }
    }
}
