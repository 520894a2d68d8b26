import Foundation

/// One ETSI GS QKD 014 (v1.1.1) request, parsed and checked against the box's limits. Pure: no I/O, no
/// state, so every rule is unit-tested (Tests/AKRPKeyDeliveryTests).
public enum ETSIRequest: Sendable, Equatable {
    /// `GET /api/v1/keys/{slave_SAE_ID}/status`.
    case status(slave: String)
    /// `GET|POST /api/v1/keys/{slave_SAE_ID}/enc_keys`: `number` keys of `size` bits each.
    case encKeys(slave: String, number: Int, size: Int)
    /// `GET|POST /api/v1/keys/{master_SAE_ID}/dec_keys`: the keys named by `keyIDs`, as written.
    case decKeys(master: String, keyIDs: [String])

    /// The limits a request is checked against (the values `status` advertises).
    public struct Limits: Sendable {
        /// Key size in bits when `enc_keys` names none.
        public var defaultKeySize: Int
        /// Smallest key size accepted, bits (sizes must also be multiples of 8).
        public var minKeySize: Int
        /// Largest key size accepted, bits.
        public var maxKeySize: Int
        /// Most keys per request: `number` of `enc_keys`, key IDs of `dec_keys`.
        public var maxKeysPerRequest: Int
        /// Largest body accepted, bytes.
        public var maxBodyBytes: Int

        /// Limits from their values: key sizes in bits, the body size in bytes.
        public init(defaultKeySize: Int, minKeySize: Int, maxKeySize: Int, maxKeysPerRequest: Int, maxBodyBytes: Int) {
            self.defaultKeySize = defaultKeySize
            self.minKeySize = minKeySize
            self.maxKeySize = maxKeySize
            self.maxKeysPerRequest = maxKeysPerRequest
            self.maxBodyBytes = maxBodyBytes
        }
    }

    /// Parses `method` and `uri` (path and query) and, for POST, the JSON `body`.
    /// - Throws: ``ETSIError`` 404 for a path outside the API, 405 for another method, 400 for a bad
    ///   parameter or body (naming it in `details`), 413 for a body over the limit.
    public static func parse(method: String, uri: String, body: [UInt8], limits: Limits) throws(ETSIError) -> ETSIRequest {
        let (path, query) = split(uri)
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0].isEmpty, parts[1] == "api", parts[2] == "v1", parts[3] == "keys" else {
            throw ETSIError(404, "no such resource", [("path", String(path.prefix(256)))])
        }
        let sae = String(parts[4])
        guard validSAEID(sae) else {
            throw ETSIError(400, "malformed SAE ID in the path", [("parameter", "SAE_ID"), ("reason", "1…64 of A-Z a-z 0-9 . _ -")])
        }
        let operation = parts[5]
        guard method == "GET" || (method == "POST" && operation != "status") else {
            throw ETSIError(405, "method \(method.prefix(16)) not allowed on \(operation)")
        }
        guard body.count <= limits.maxBodyBytes else {
            throw ETSIError(413, "request body too large", [("limit_bytes", "\(limits.maxBodyBytes)")])
        }
        switch operation {
        case "status":
            return .status(slave: sae)
        case "enc_keys":
            var number = 1
            var size = limits.defaultKeySize
            if method == "GET" {
                for (name, value) in query {
                    switch name {
                    case "number": number = try integer("number", value)
                    case "size": size = try integer("size", value)
                    default: throw ETSIError(400, "unknown query parameter", [("parameter", String(name.prefix(64)))])
                    }
                }
            } else {
                let request: KeyRequestBody = try decode(body)
                if let n = request.number { number = n }
                if let s = request.size { size = s }
                if let extra = request.additional_slave_SAE_IDs, !extra.isEmpty {
                    throw ETSIError(
                        400, "additional slave SAEs are not supported (max_SAE_ID_count is 0)",
                        [("parameter", "additional_slave_SAE_IDs")])
                }
                if let mandatory = request.extension_mandatory, let first = mandatory.first {
                    throw ETSIError(400, "not supported extension", [("extension_mandatory", String(first.summary.prefix(128)))])
                }
            }
            guard number >= 1, number <= limits.maxKeysPerRequest else {
                throw ETSIError(
                    400, "number of keys out of range",
                    [("parameter", "number"), ("reason", "must be 1…\(limits.maxKeysPerRequest), got \(number)")])
            }
            guard size % 8 == 0, size >= limits.minKeySize, size <= limits.maxKeySize else {
                throw ETSIError(
                    400, "key size not supported",
                    [("parameter", "size"),
                     ("reason", "must be a multiple of 8 in \(limits.minKeySize)…\(limits.maxKeySize), got \(size)")])
            }
            return .encKeys(slave: sae, number: number, size: size)
        case "dec_keys":
            var ids: [String] = []
            if method == "GET" {
                for (name, value) in query {
                    guard name == "key_ID" else {
                        throw ETSIError(400, "unknown query parameter", [("parameter", String(name.prefix(64)))])
                    }
                    ids.append(value)
                }
            } else {
                let request: KeyIDsBody = try decode(body)
                ids = request.key_IDs.map(\.key_ID)
            }
            guard !ids.isEmpty else {
                throw ETSIError(400, "no key_ID given", [("parameter", "key_IDs")])
            }
            guard ids.count <= limits.maxKeysPerRequest else {
                throw ETSIError(
                    400, "too many key_IDs", [("parameter", "key_IDs"), ("reason", "at most \(limits.maxKeysPerRequest)")])
            }
            if Set(ids).count != ids.count {
                throw ETSIError(400, "a key_ID is given twice", [("parameter", "key_IDs")])
            }
            for id in ids where KeyID(id) == nil && !looksLikeUUID(id) {
                throw ETSIError(400, "malformed key_ID (not a UUID)", [("key_ID", String(id.prefix(64)))])
            }
            return .decKeys(master: sae, keyIDs: ids)
        default:
            throw ETSIError(404, "no such resource", [("path", String(path.prefix(256)))])
        }
    }

    /// SAE IDs are 1…64 of letters, digits, `.`, `_`, `-` (docs/CONFIG.md).
    static func validSAEID(_ s: String) -> Bool {
        let u = s.utf8
        guard (1...64).contains(u.count) else { return false }
        return u.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2E || b == 0x5F || b == 0x2D
        }
    }

    /// A UUID in 8-4-4-4-12 form, whatever its version.
    static func looksLikeUUID(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count == 36 else { return false }
        for (i, c) in u.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != 0x2D { return false }
            } else if !((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)) {
                return false
            }
        }
        return true
    }

    /// The path and the decoded query parameters (at most 4096, each `name=value`).
    static func split(_ uri: String) -> (Substring, [(String, String)]) {
        guard let q = uri.firstIndex(of: "?") else { return (Substring(uri), []) }
        var params: [(String, String)] = []
        for pair in uri[uri.index(after: q)...].split(separator: "&").prefix(4096) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            params.append((percentDecoded(kv[0]), kv.count > 1 ? percentDecoded(kv[1]) : ""))
        }
        return (uri[..<q], params)
    }

    static func percentDecoded(_ s: Substring) -> String {
        guard s.contains("%") || s.contains("+") else { return String(s) }
        var out: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else if c == UInt8(ascii: "%"), it.count >= 2, let h = hexValue(it[it.startIndex]), let l = hexValue(it[it.startIndex + 1]) {
                out.append(h << 4 | l)
                it = it.dropFirst(2)
            } else {
                out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }

    static func integer(_ name: String, _ value: String) throws(ETSIError) -> Int {
        guard value.utf8.count <= 9, let n = Int(value), n >= 0 else {
            throw ETSIError(400, "\(name) must be a non-negative integer", [("parameter", name), ("value", String(value.prefix(32)))])
        }
        return n
    }

    static func typeError(_ name: String, _ expected: String) -> ETSIError {
        ETSIError(400, "\(name) must be \(expected)", [("parameter", name)])
    }

    /// Decodes a JSON body; a type error names the field.
    static func decode<T: Decodable>(_ body: [UInt8]) throws(ETSIError) -> T {
        guard !body.isEmpty else { throw ETSIError(400, "a JSON object is required in the body", [("parameter", "body")]) }
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch let DecodingError.typeMismatch(_, context) {
            throw ETSIError(400, "wrong type in the JSON body", [("parameter", path(context)), ("reason", "type mismatch")])
        } catch let DecodingError.keyNotFound(key, context) {
            throw ETSIError(400, "missing field in the JSON body", [("parameter", path(context, key))])
        } catch let DecodingError.valueNotFound(_, context) {
            throw ETSIError(400, "null where a value is required", [("parameter", path(context))])
        } catch {
            throw ETSIError(400, "malformed JSON body", [("parameter", "body")])
        }
    }

    static func path(_ context: DecodingError.Context, _ last: (any CodingKey)? = nil) -> String {
        let keys = context.codingPath + (last.map { [$0] } ?? [])
        let text = keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        return text.isEmpty ? "body" : String(text.prefix(128))
    }
}

/// The body of `POST enc_keys` (ETSI GS QKD 014 §6.2 "Key request").
struct KeyRequestBody: Decodable {
    var number: Int?
    var size: Int?
    var additional_slave_SAE_IDs: [String]?
    var extension_mandatory: [JSONValueAny]?
    var extension_optional: [JSONValueAny]?
}

/// The body of `POST dec_keys` (§6.4 "Key IDs").
struct KeyIDsBody: Decodable {
    struct Entry: Decodable {
        var key_ID: String
        var key_ID_extension: JSONValueAny?
    }
    var key_IDs: [Entry]
    var key_IDs_extension: JSONValueAny?
}

/// Any JSON value (extensions are opaque objects).
indirect enum JSONValueAny: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSONValueAny]), object([String: JSONValueAny])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValueAny].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValueAny].self)) }
    }

    /// The names of an object's fields (what an error reports).
    var summary: String {
        if case .object(let o) = self { return o.keys.sorted().joined(separator: ",") }
        return "?"
    }
}
