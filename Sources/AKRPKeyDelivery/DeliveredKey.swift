public import AKRPNode

/// One key handed to an SAE: its key_ID and its bytes (wiped when the value goes).
public struct DeliveredKey: Sendable {
    /// The key_ID (UUID).
    public let id: KeyID
    /// The key bytes.
    public let key: SendableSecret
}

/// ``SecretBytes`` handed from the node's loop to an HTTP connection's loop: written once before it
/// crosses, read once after, never shared.
public struct SendableSecret: @unchecked Sendable {
    /// The bytes.
    public let secret: SecretBytes
}
