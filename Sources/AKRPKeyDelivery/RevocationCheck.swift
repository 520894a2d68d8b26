import AKRPKeySource
import NIOSSL

/// Refuses revoked client certificates inside the TLS handshake, after BoringSSL's own verification.
///
/// swift-nio-ssl offers three hooks: a custom verification callback that *replaces* BoringSSL's chain
/// verification (the box would have to verify chains itself), an "additional" callback that runs only
/// after the handshake completed (no alert, the client sees a closed connection), and the per-certificate
/// callback that receives BoringSSL's verdict for every certificate of the chain and may turn a pass into
/// a failure — BoringSSL then ends the handshake with an alert, exactly as for an expired certificate.
/// Only the last keeps BoringSSL's verification and refuses in the handshake; its initialiser is marked
/// deprecated in favour of the first. It is reached through ``RevocationCheckedHandler`` (a protocol the
/// server handler conforms to) so that the build stays free of warnings; the day the initialiser goes,
/// the conformance stops compiling and this file says why.
protocol RevocationCheckedHandler {
    init(context: NIOSSLContext, verificationCallback: NIOSSLVerificationCallback?) throws
}

extension NIOSSLServerHandler: RevocationCheckedHandler {}

enum RevocationCheck {
    /// The server's TLS handler for one connection: BoringSSL verifies the client's chain (CA, validity);
    /// a certificate of the chain whose SHA-256 fingerprint (of the DER) is in `revoked` fails it in the
    /// handshake. `refused` runs (on the connection's loop) when a revoked certificate was seen.
    static func handler(
        context: NIOSSLContext, revoked: Set<[UInt8]>, refused: @escaping () -> Void
    ) throws -> NIOSSLServerHandler {
        try make(NIOSSLServerHandler.self, context: context) { verdict, certificate in
            guard case .certificateVerified = verdict else { return verdict }
            guard !revoked.isEmpty else { return verdict }
            guard let der = try? certificate.toDERBytes() else { return .failed }
            if revoked.contains(SHA256.hash(der)) {
                refused()
                return .failed
            }
            return verdict
        }
    }

    private static func make<H: RevocationCheckedHandler>(
        _: H.Type, context: NIOSSLContext, callback: @escaping NIOSSLVerificationCallback
    ) throws -> H {
        try H(context: context, verificationCallback: callback)
    }
}
