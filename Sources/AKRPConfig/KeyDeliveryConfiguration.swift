public import AKRPEngine

/// The box's ETSI GS QKD 014 key delivery service (docs/KEY-DELIVERY.md): its HTTPS listener with mutual
/// TLS, the certificate files, the key stocks, and the limits that keep hostile clients bounded. Absent
/// (`nil` in ``NodeConfiguration/keyDelivery``) when the text has no `[key-delivery]` section.
public struct KeyDeliverySettings: Sendable, Equatable {
    /// Where the HTTPS (mutual TLS) listener accepts SAEs.
    public var listen: NetworkAddress
    /// The box's own certificate chain (PEM).
    public var certificate: String
    /// The box's private key (PEM).
    public var privateKey: String
    /// The CA certificates (PEM) an SAE's client certificate must chain to.
    public var clientCA: String
    /// SHA-256 fingerprints (32 bytes each) of client certificates refused although they chain to the CA
    /// (revoked).
    public var revoked: [[UInt8]] = []
    /// Where `/metrics` (Prometheus text) is served over plain HTTP; nil: no metrics listener.
    public var metricsListen: NetworkAddress?
    /// Size of one AKRP request that tops up a key stock, bits (a multiple of 8).
    public var stockRequestBits: Int = 16_384
    /// Relayed keys a stock of one (master, slave) pair is kept topped up to (requests in flight count).
    public var stockDepth: Int = 4
    /// How long `enc_keys` waits for key when the stock is short, nanoseconds; then 503.
    public var encWait: Nanoseconds = 2_000_000_000
    /// `size` when an `enc_keys` request gives none, bits.
    public var defaultKeySize: Int = 256
    /// Largest `size` of one key, bits.
    public var maxKeySize: Int = 4096
    /// Smallest `size` of one key, bits.
    public var minKeySize: Int = 64
    /// Largest `number` of keys in one `enc_keys` request.
    public var maxKeysPerRequest: Int = 128
    /// Relayed keys held at this box for slave SAEs (received, not yet fully fetched).
    public var heldRelays: Int = 1024
    /// How long a relayed key waits here for its slave SAE, nanoseconds; then it is wiped.
    public var heldExpiry: Nanoseconds = 3_600_000_000_000
    /// Simultaneous HTTPS connections; further ones are closed at once.
    public var maxConnections: Int = 512
    /// Largest request body, bytes (a larger one gets 413 and the connection closes).
    public var maxBodyBytes: Int = 65_536
    /// A connection idle (or stuck in a request) this long is closed, nanoseconds.
    public var idleTimeout: Nanoseconds = 30_000_000_000

    /// Settings with every optional field at its default.
    public init(listen: NetworkAddress, certificate: String, privateKey: String, clientCA: String) {
        self.listen = listen
        self.certificate = certificate
        self.privateKey = privateKey
        self.clientCA = clientCA
    }
}

/// One secure application entity (SAE) of the network: its ID, the box it is registered at, how its
/// client certificate is recognised there, and the slaves its key stocks are kept for.
public struct SAERegistration: Sendable, Equatable {
    /// The SAE ID used in the ETSI 014 paths (`[A-Za-z0-9._-]`, 1…64 characters).
    public var id: String
    /// The box (KME) the SAE is attached to.
    public var node: NodeID
    /// The certificate's subject as `CN=…,O=…` (attributes in certificate order); nil when not used.
    public var subject: String?
    /// SHA-256 of the certificate (DER), 32 bytes; nil when not used.
    public var fingerprint: [UInt8]?
    /// Slave SAEs for which a key stock with this SAE as master is kept at its box.
    public var stockFor: [String] = []

    /// An SAE registered at `node`.
    public init(id: String, node: NodeID) {
        self.id = id
        self.node = node
    }
}
