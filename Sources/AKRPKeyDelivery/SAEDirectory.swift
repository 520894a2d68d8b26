public import AKRPConfig
public import AKRPEngine

/// Who an SAE is and what it may do, from the box's configuration: identity from the client certificate
/// (subject or SHA-256 fingerprint registered in an `[sae ID]` section for this box), and the
/// authorisation rules of docs/KEY-DELIVERY.md. Pure: unit-tested.
public struct SAEDirectory: Sendable {
    /// This box.
    public let node: NodeID
    /// Every SAE of the network by ID.
    public let byID: [String: SAERegistration]
    /// SHA-256 fingerprints of certificates refused although they chain to the CA.
    public let revoked: Set<[UInt8]>

    /// The directory of `configuration`.
    public init(configuration c: NodeConfiguration) {
        node = c.node
        var m: [String: SAERegistration] = [:]
        for s in c.saes { m[s.id] = s }
        byID = m
        revoked = Set(c.keyDelivery?.revoked ?? [])
    }

    /// The SAE registered at this box whose certificate has `fingerprint` (SHA-256 of the DER) or
    /// `subject` (as ``subjectText(_:)`` writes it). A fingerprint registration wins over a subject one.
    /// - Throws: ``ETSIError`` 401 when the certificate is revoked or no SAE of this box has it.
    public func identify(fingerprint: [UInt8], subject: String) throws(ETSIError) -> SAERegistration {
        if revoked.contains(fingerprint) {
            throw ETSIError(401, "client certificate revoked")
        }
        var bySubject: SAERegistration?
        for s in byID.values where s.node == node {
            if let f = s.fingerprint {
                if f == fingerprint { return s }
                continue  // pinned to a fingerprint: the subject alone is not enough
            }
            if s.subject == subject { bySubject = s }
        }
        if let s = bySubject { return s }
        throw ETSIError(401, "client certificate not registered for any SAE at this KME", [("subject", String(subject.prefix(256)))])
    }

    /// The slave SAE a master may ask keys for (`status`, `enc_keys`): registered at another box.
    /// - Throws: ``ETSIError`` 400 for an unknown SAE, 401 when it is at this box or the caller itself.
    public func slave(_ id: String, for master: SAERegistration) throws(ETSIError) -> SAERegistration {
        guard let slave = byID[id] else {
            throw ETSIError(400, "unknown slave SAE", [("slave_SAE_ID", id)])
        }
        guard slave.id != master.id else {
            throw ETSIError(401, "an SAE cannot be its own slave", [("slave_SAE_ID", id)])
        }
        guard slave.node != node else {
            throw ETSIError(
                401, "the slave SAE is attached to this KME; keys are relayed only between SAEs at different KMEs",
                [("slave_SAE_ID", id)])
        }
        return slave
    }

    /// The master SAE named in a `dec_keys` path, for the calling slave.
    /// - Throws: ``ETSIError`` 400 for an unknown SAE, 401 when it is the caller itself or attached here.
    public func master(_ id: String, for slave: SAERegistration) throws(ETSIError) -> SAERegistration {
        guard let master = byID[id] else {
            throw ETSIError(400, "unknown master SAE", [("master_SAE_ID", id)])
        }
        guard master.id != slave.id, master.node != node else {
            throw ETSIError(401, "not authorised for keys of that master SAE", [("master_SAE_ID", id)])
        }
        return master
    }

    /// The text form of a certificate subject: `TYPE=value` pairs in certificate order joined by `,`,
    /// with the usual short names (CN, O, OU, C, ST, L, emailAddress, UID).
    public static func subjectText(_ names: [(type: String, value: String)]) -> String {
        names.map { "\($0.type)=\($0.value)" }.joined(separator: ",")
    }
}
