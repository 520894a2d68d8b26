public import CoreMetrics

/// The key delivery service's metrics (swift-metrics; `akrpd` backs them with swift-prometheus and serves
/// them on `/metrics`). Created once at start; the hot paths only bump them.
public final class DeliveryMetrics: Sendable {
    let factory: any MetricsFactory
    /// Keys handed out by `enc_keys` (master side) and `dec_keys` (slave side).
    let encKeys: Counter
    let decKeys: Counter
    /// HTTPS connections refused in or right after the TLS handshake.
    let handshakeFailures: Counter
    /// Of those, handshakes ended because a certificate of the chain is in the `revoked` list.
    let revokedRefused: Counter
    let connectionsRefused: Counter
    /// Relays for stocks: started, delivered, failed.
    let relaysStarted: Counter
    let relaysDelivered: Counter
    let relaysFailed: Counter
    /// Restart notices sent (this box started) and received (another box restarted: stocks toward it wiped).
    let noticesSent: Counter
    let noticesReceived: Counter
    /// Relayed keys held for slave SAEs here, and relays refused (full) or expired.
    let heldRelays: Gauge
    let heldRefused: Counter

    /// Metrics made by `factory` (a no-op factory when none is wanted).
    public init(factory: any MetricsFactory) {
        self.factory = factory
        encKeys = Counter(label: "akrp_etsi_keys_delivered_total", dimensions: [("side", "enc_keys")], factory: factory)
        decKeys = Counter(label: "akrp_etsi_keys_delivered_total", dimensions: [("side", "dec_keys")], factory: factory)
        handshakeFailures = Counter(label: "akrp_etsi_tls_handshake_failures_total", factory: factory)
        revokedRefused = Counter(label: "akrp_etsi_revoked_certificates_refused_total", factory: factory)
        connectionsRefused = Counter(label: "akrp_etsi_connections_refused_total", factory: factory)
        relaysStarted = Counter(label: "akrp_etsi_stock_relays_total", dimensions: [("outcome", "started")], factory: factory)
        relaysDelivered = Counter(label: "akrp_etsi_stock_relays_total", dimensions: [("outcome", "delivered")], factory: factory)
        relaysFailed = Counter(label: "akrp_etsi_stock_relays_total", dimensions: [("outcome", "failed")], factory: factory)
        noticesSent = Counter(label: "akrp_etsi_restart_notices_total", dimensions: [("direction", "sent")], factory: factory)
        noticesReceived = Counter(label: "akrp_etsi_restart_notices_total", dimensions: [("direction", "received")], factory: factory)
        heldRelays = Gauge(label: "akrp_etsi_held_relays", factory: factory)
        heldRefused = Counter(label: "akrp_etsi_held_relays_refused_total", factory: factory)
    }

    /// A refused request, by reason (`bad_request`, `unauthorized`, `no_key`, …).
    func refused(_ reason: String) {
        Counter(label: "akrp_etsi_requests_refused_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    /// The latency of one request of `operation` (status, enc_keys, dec_keys), nanoseconds.
    func latency(_ operation: String, nanoseconds: Int64) {
        Timer(label: "akrp_etsi_request_duration_seconds", dimensions: [("operation", operation)], factory: factory)
            .recordNanoseconds(nanoseconds)
    }

    /// The stock level of one pair: relayed keys and bytes that can still be cut.
    func stock(master: String, slave: String, relays: Int, bytes: Int) {
        let d = [("master", master), ("slave", slave)]
        Gauge(label: "akrp_etsi_stock_relays", dimensions: d, factory: factory).record(relays)
        Gauge(label: "akrp_etsi_stock_bytes", dimensions: d, factory: factory).record(bytes)
    }
}
