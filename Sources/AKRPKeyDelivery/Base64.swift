import AKRPConfig

/// Standard base64 (RFC 4648 §4, with padding) of key bytes into a byte array the caller wipes: key
/// material never passes through a `String`.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Appends the encoding of `bytes` to `out`.
    static func append(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        var i = 0
        let n = bytes.count
        while i + 3 <= n {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(alphabet[Int(v >> 6 & 63)])
            out.append(alphabet[Int(v & 63)])
            i += 3
        }
        if n - i == 1 {
            let v = UInt32(bytes[i]) << 16
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        } else if n - i == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(alphabet[Int(v >> 6 & 63)])
            out.append(UInt8(ascii: "="))
        }
    }
}

/// The JSON answers of ETSI GS QKD 014 (§6): exact field names and types.
enum ETSIResponse {
    /// The key container `{"keys":[{"key_ID":…,"key":…},…]}` as bytes (the caller wipes them after use).
    static func keyContainer(_ keys: [DeliveredKey]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + keys.reduce(0) { $0 + 64 + $1.key.secret.count * 4 / 3 })
        out.append(contentsOf: "{\"keys\":[".utf8)
        for (i, k) in keys.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: "{\"key_ID\":\"".utf8)
            out.append(contentsOf: k.id.description.utf8)
            out.append(contentsOf: "\",\"key\":\"".utf8)
            Base64.append(UnsafeRawBufferPointer(rebasing: k.key.secret.bytes[0..<min(k.id.length, k.key.secret.count)]), to: &out)
            out.append(contentsOf: "\"}".utf8)
        }
        out.append(contentsOf: "]}".utf8)
        return out
    }

    /// The status object (§6.1).
    static func status(
        sourceKME: String, targetKME: String, master: String, slave: String, keySize: Int, storedKeyCount: Int,
        maxKeyCount: Int, maxKeyPerRequest: Int, maxKeySize: Int, minKeySize: Int
    ) -> String {
        "{\"source_KME_ID\":\(JSONValue.quoted(sourceKME)),\"target_KME_ID\":\(JSONValue.quoted(targetKME)),"
            + "\"master_SAE_ID\":\(JSONValue.quoted(master)),\"slave_SAE_ID\":\(JSONValue.quoted(slave)),"
            + "\"key_size\":\(keySize),\"stored_key_count\":\(storedKeyCount),\"max_key_count\":\(maxKeyCount),"
            + "\"max_key_per_request\":\(maxKeyPerRequest),\"max_key_size\":\(maxKeySize),\"min_key_size\":\(minKeySize),"
            + "\"max_SAE_ID_count\":0}"
    }
}
