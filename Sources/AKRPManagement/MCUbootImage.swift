import AKRPKeySource

/// Why bytes are not an acceptable MCUboot image.
public enum MCUbootImageError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooShort(Int)
    case badMagic(UInt32)
    case badHeaderSize(UInt16)
    case badImageSize(UInt32)
    case badTLVInfo(offset: Int)
    case badTLV(offset: Int)
    case noHash
    case multipleHashes
    case hashMismatch
    case trailingBytes(Int)

    /// A one-line English message naming what is wrong with the image.
    public var description: String {
        switch self {
        case .tooShort(let n): "\(n) bytes are too few for an MCUboot image"
        case .badMagic(let m): "not an MCUboot image: magic 0x\(String(m, radix: 16)) instead of 0x96f3b83d"
        case .badHeaderSize(let n): "MCUboot header size \(n) is below 32 or beyond the image"
        case .badImageSize(let n): "MCUboot image size \(n) goes beyond the file"
        case .badTLVInfo(let o): "MCUboot TLV area at byte \(o) has no valid info header"
        case .badTLV(let o): "MCUboot TLV at byte \(o) runs past its area"
        case .noHash: "MCUboot image has no SHA-256 TLV"
        case .multipleHashes: "MCUboot image has more than one SHA-256 TLV"
        case .hashMismatch: "MCUboot image's SHA-256 TLV does not match its contents"
        case .trailingBytes(let n): "\(n) bytes after the MCUboot TLV area"
        }
    }
}

/// An MCUboot image as `imgtool` writes it (all integers little-endian):
/// a 32-byte header (magic `0x96f3b83d`, load address, header size, protected TLV size, image size, flags,
/// version major.minor.revision+build), the payload at the header size, then an optional protected TLV
/// area (info magic `0x6908`) and the TLV area (info magic `0x6907`): `type:16 length:16 value` entries.
/// The SHA-256 TLV (type 0x10) covers header, payload and protected TLVs; an ED25519 signature TLV (0x24)
/// signs that digest.
public struct MCUbootImage: Sendable, Equatable {
    /// The header's magic number (first 4 bytes, little-endian).
    public static let magic: UInt32 = 0x96F3_B83D
    /// Info magic that starts the (unprotected) TLV area.
    public static let tlvInfoMagic: UInt16 = 0x6907
    /// Info magic that starts the protected TLV area (covered by the hash).
    public static let protectedTLVInfoMagic: UInt16 = 0x6908
    /// TLV type of the SHA-256 digest (32 bytes) over header, payload and protected TLVs.
    public static let tlvSHA256: UInt16 = 0x10
    /// TLV type of the hash of the signing public key, written before the signature by
    /// ``build(payload:version:keyHash:sign:)``.
    public static let tlvKeyHash: UInt16 = 0x01
    /// TLV type of an ED25519 signature (64 bytes) over the SHA-256 digest, or over the signed bytes in
    /// MCUboot's "pure" mode (docs/MANAGEMENT.md).
    public static let tlvED25519: UInt16 = 0x24
    /// Size of the fixed header in bytes; the header size field may be larger (padding), never smaller.
    public static let headerSize = 32

    /// `major.minor.revision` and build number.
    public var version: (major: UInt8, minor: UInt8, revision: UInt16, build: UInt32)
    /// The header size field: offset of the payload in bytes (at least ``headerSize``).
    public var headerLength: Int
    /// The payload (here: a configuration image).
    public var payload: [UInt8]
    /// The SHA-256 TLV: the image's identity in the image group.
    public var hash: [UInt8]
    /// ED25519 signature TLVs (64 bytes each).
    public var signatures: [[UInt8]]
    /// The header's flags word, as read (not interpreted here).
    public var flags: UInt32
    /// How many bytes from the start the hash covers (header, payload, protected TLVs): what is signed.
    public var signedLength: Int

    /// Equal when every parsed field is equal (the version tuple compared element by element).
    public static func == (a: MCUbootImage, b: MCUbootImage) -> Bool {
        a.version == b.version && a.headerLength == b.headerLength && a.payload == b.payload && a.hash == b.hash
            && a.signatures == b.signatures && a.flags == b.flags && a.signedLength == b.signedLength
    }

    /// The version as the image group reports it: `major.minor.revision` and `.build` when not zero.
    public var versionString: String {
        let base = "\(version.major).\(version.minor).\(version.revision)"
        return version.build == 0 ? base : base + ".\(version.build)"
    }

    static func u16(_ b: [UInt8], _ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
    static func u32(_ b: [UInt8], _ o: Int) -> UInt32 {
        UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
    }

    /// Parses and checks an image: header, bounds of every TLV, exactly one SHA-256 TLV equal to the
    /// digest of header, payload and protected TLVs, nothing after the TLV area.
    public init(parsing bytes: [UInt8]) throws(MCUbootImageError) {
        guard bytes.count >= Self.headerSize else { throw .tooShort(bytes.count) }
        let magic = Self.u32(bytes, 0)
        guard magic == Self.magic else { throw .badMagic(magic) }
        let hdr = Self.u16(bytes, 8)
        let protectedSize = Int(Self.u16(bytes, 10))
        let imageSize = Self.u32(bytes, 12)
        flags = Self.u32(bytes, 16)
        version = (bytes[20], bytes[21], Self.u16(bytes, 22), Self.u32(bytes, 24))
        guard Int(hdr) >= Self.headerSize, Int(hdr) <= bytes.count else { throw .badHeaderSize(hdr) }
        headerLength = Int(hdr)
        guard UInt64(imageSize) <= UInt64(bytes.count - Int(hdr)) else { throw .badImageSize(imageSize) }
        let payloadEnd = Int(hdr) + Int(imageSize)
        payload = Array(bytes[Int(hdr)..<payloadEnd])
        var offset = payloadEnd
        var hashes: [[UInt8]] = []
        var signatures: [[UInt8]] = []
        if protectedSize > 0 {
            guard bytes.count - offset >= protectedSize, protectedSize >= 4,
                Self.u16(bytes, offset) == Self.protectedTLVInfoMagic, Int(Self.u16(bytes, offset + 2)) == protectedSize
            else { throw .badTLVInfo(offset: offset) }
            try Self.walk(bytes, from: offset + 4, to: offset + protectedSize) { _, _ in }
            offset += protectedSize
        }
        let digestEnd = offset
        signedLength = offset
        guard bytes.count - offset >= 4, Self.u16(bytes, offset) == Self.tlvInfoMagic else {
            throw .badTLVInfo(offset: offset)
        }
        let total = Int(Self.u16(bytes, offset + 2))
        guard total >= 4, bytes.count - offset >= total else { throw .badTLVInfo(offset: offset) }
        try Self.walk(bytes, from: offset + 4, to: offset + total) { type, value in
            if type == Self.tlvSHA256 { hashes.append(value) }
            if type == Self.tlvED25519 { signatures.append(value) }
        }
        guard offset + total == bytes.count else { throw .trailingBytes(bytes.count - offset - total) }
        guard !hashes.isEmpty else { throw .noHash }
        guard hashes.count == 1 else { throw .multipleHashes }
        guard hashes[0].count == 32, SHA256.hash(Array(bytes[0..<digestEnd])) == hashes[0] else { throw .hashMismatch }
        hash = hashes[0]
        self.signatures = signatures
    }

    private static func walk(
        _ bytes: [UInt8], from start: Int, to end: Int, _ visit: (UInt16, [UInt8]) -> Void
    ) throws(MCUbootImageError) {
        var o = start
        while o < end {
            guard end - o >= 4 else { throw .badTLV(offset: o) }
            let type = u16(bytes, o)
            let length = Int(u16(bytes, o + 2))
            guard end - o - 4 >= length else { throw .badTLV(offset: o) }
            visit(type, Array(bytes[(o + 4)..<(o + 4 + length)]))
            o += 4 + length
        }
    }

    /// Builds an image around `payload`, with a SHA-256 TLV and, when `sign` is given, an ED25519 TLV
    /// holding `sign(digest)` (and the key-hash TLV `keyHash` when given). Layout as `imgtool` writes it.
    public static func build(
        payload: [UInt8], version: (UInt8, UInt8, UInt16, UInt32) = (0, 0, 0, 0),
        keyHash: [UInt8]? = nil, sign: (([UInt8]) -> [UInt8])? = nil
    ) -> [UInt8] {
        func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        var out = le32(magic) + le32(0) + le16(UInt16(headerSize)) + le16(0) + le32(UInt32(payload.count)) + le32(0)
        out += [version.0, version.1] + le16(version.2) + le32(version.3) + le32(0)
        out += payload
        let digest = SHA256.hash(out)
        var tlvs = le16(tlvSHA256) + le16(32) + digest
        if let sign {
            if let keyHash { tlvs += le16(tlvKeyHash) + le16(UInt16(keyHash.count)) + keyHash }
            let signature = sign(digest)
            tlvs += le16(tlvED25519) + le16(UInt16(signature.count)) + signature
        }
        out += le16(tlvInfoMagic) + le16(UInt16(4 + tlvs.count)) + tlvs
        return out
    }
}
