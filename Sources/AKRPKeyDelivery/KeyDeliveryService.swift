public import AKRPConfig
public import AKRPNode
import CoreMetrics
public import Logging
public import Prometheus
public import ServiceLifecycle

/// The key delivery service of `akrpd` under swift-service-lifecycle: waits for the box to start, then
/// serves the ETSI GS QKD 014 API (and `/metrics` when configured) until a graceful shutdown, when it
/// stops accepting, answers waiting requests with 503 and wipes every stock and held relay. List it after
/// the ``NodeService`` so that it stops first.
public struct KeyDeliveryService: Service {
    let node: RelayNode
    let settings: KeyDeliverySettings
    let registry: PrometheusCollectorRegistry
    let logger: Logger

    /// The service of `node` with `settings`; its metrics go to `registry`.
    public init(node: RelayNode, settings: KeyDeliverySettings, registry: PrometheusCollectorRegistry, logger: Logger) {
        self.node = node
        self.settings = settings
        self.registry = registry
        self.logger = logger
    }

    /// Waits for the box to start, serves until a graceful shutdown, then stops the listeners and wipes the stocks.
    /// - Throws: ``KeyDeliveryStartError`` when a certificate cannot be read or a listener cannot be bound.
    public func run() async throws {
        while !(await node.hasStarted()) {
            if Task.isCancelled || Task.isShuttingDownGracefully { return }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        var factory = PrometheusMetricsFactory(registry: registry)
        // Request latencies are sub-millisecond from stock and milliseconds on demand.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10),
        ]
        let metrics = DeliveryMetrics(factory: factory)
        let core = KeyDeliveryCore(node: node, settings: settings, metrics: metrics, logger: logger)
        try await node.loop.submit { core.start() }.get()
        let server = try KeyDeliveryServer(core: core, settings: settings, logger: logger)
        try await server.start()
        var metricsServer: MetricsServer?
        if let address = settings.metricsListen {
            let sampler = NodeMetricsSampler(node: node, factory: factory)
            let m = MetricsServer(registry: registry) { await sampler.sample() }
            try await m.start(address: address)
            logger.info("metrics listening", metadata: ["address": "\(address)"])
            metricsServer = m
        }
        try? await gracefulShutdown()
        await server.stop()
        await metricsServer?.stop()
        await core.stop()
        logger.info("key delivery stopped; stocks wiped")
    }
}

/// Gauges of the box's links sampled before each scrape: pool fill, key used (consumed units, a counter
/// whose rate is the key rate), discarded units, authentication key spent, link state, and the status of
/// each link's key source (`akrp_device_*`: delivering, units delivered, errors; for USB devices attached,
/// streaming, units lost, bad CRC, unplugs, …).
struct NodeMetricsSampler: Sendable {
    let node: RelayNode
    let factory: PrometheusMetricsFactory

    func sample() async {
        let s = await node.metricsSnapshot()
        for l in s.links {
            let d = [("neighbour", "\(l.neighbour.rawValue)")]
            Gauge(label: "akrp_link_up", dimensions: d, factory: factory).record(l.up ? 1 : 0)
            Gauge(label: "akrp_pool_available_units", dimensions: d, factory: factory).record(l.available)
            Gauge(label: "akrp_pool_held_units", dimensions: d, factory: factory).record(l.held)
            Gauge(label: "akrp_pool_fill_ratio", dimensions: d, factory: factory)
                .record(Double(l.available) / Double(max(1, l.capacity)))
            Gauge(label: "akrp_link_consumed_bytes", dimensions: d, factory: factory).record(Double(l.consumed) * Double(s.unitSize))
            Gauge(label: "akrp_link_discarded_bytes", dimensions: d, factory: factory).record(Double(l.discarded) * Double(s.unitSize))
            Gauge(label: "akrp_link_authentication_bytes", dimensions: d, factory: factory)
                .record(Double(l.authenticationUnits) * Double(s.unitSize))
            // Device status: the key source's statistics group, one gauge per figure.
            for (name, value) in l.device {
                Gauge(label: "akrp_device_" + name, dimensions: d, factory: factory).record(Double(value))
            }
        }
        Gauge(label: "akrp_keys_delivered", factory: factory).record(Double(s.keysDelivered))
        Gauge(label: "akrp_requests_failed", factory: factory).record(Double(s.requestsFailed))
    }
}
