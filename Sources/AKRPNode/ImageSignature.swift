import Crypto

/// ED25519 signatures of configuration images (MCUboot TLV 0x24).
enum ImageSignature {
    /// Whether `signature` is `key`'s ED25519 signature of the image: of its SHA-256 digest (what
    /// `imgtool` signs by default) or of the signed bytes themselves (MCUboot's "pure" mode).
    static func verify(_ signature: [UInt8], digest: [UInt8], signedBytes: [UInt8], key: [UInt8]) -> Bool {
        guard signature.count == 64, let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: key) else { return false }
        return publicKey.isValidSignature(signature, for: digest) || publicKey.isValidSignature(signature, for: signedBytes)
    }
}
