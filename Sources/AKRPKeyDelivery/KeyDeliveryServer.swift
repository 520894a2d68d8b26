public import AKRPConfig
import AKRPEngine
public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// Why the key delivery service cannot start.
public enum KeyDeliveryStartError: Error, CustomStringConvertible {
    /// A certificate, key or CA file cannot be read (`field` names the configuration field).
    case tls(field: String, path: String, reason: String)
    /// A listener cannot be bound.
    case listen(what: String, address: String, reason: String)

    /// A one-line English message naming the field and file, or the listener and address, and the reason.
    public var description: String {
        switch self {
        case .tls(let field, let path, let reason): "[key-delivery] \(field) '\(path)': \(reason)"
        case .listen(let what, let address, let reason): "cannot listen for \(what) on \(address): \(reason)"
        }
    }
}

/// The HTTPS listener of the ETSI GS QKD 014 API: mutual TLS (client certificate required, chained to
/// `client-ca`, verified in the handshake: unknown CA, expired, missing → refused), at most
/// `max-connections` at once, each connection closed when idle or when a request takes longer than
/// `idle-timeout-ms`, bodies bounded by `max-body-bytes`. Runs on its own event loop so that TLS work
/// never delays the relay engine's loop.
public final class KeyDeliveryServer: Sendable {
    let core: KeyDeliveryCore
    let group: MultiThreadedEventLoopGroup
    let tls: NIOSSLContext
    let settings: KeyDeliverySettings
    let logger: Logger
    let active = Atomic<Int>(0)
    let channel = Mutex<(any Channel)?>(nil)

    /// Loads the certificates and key (PEM) of `settings`.
    /// - Throws: ``KeyDeliveryStartError/tls(field:path:reason:)`` naming the file.
    public init(core: KeyDeliveryCore, settings: KeyDeliverySettings, threads: Int = 1, logger: Logger) throws(KeyDeliveryStartError) {
        self.core = core
        self.settings = settings
        self.logger = logger
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        let roots: [NIOSSLCertificate]
        // PEM explicitly: swift-nio-ssl would read a file named *.key as DER.
        do { chain = try NIOSSLCertificate.fromPEMFile(settings.certificate) } catch {
            throw .tls(field: "certificate", path: settings.certificate, reason: "\(error)")
        }
        do { key = try NIOSSLPrivateKey(file: settings.privateKey, format: .pem) } catch {
            throw .tls(field: "private-key", path: settings.privateKey, reason: "\(error)")
        }
        do { roots = try NIOSSLCertificate.fromPEMFile(settings.clientCA) } catch {
            throw .tls(field: "client-ca", path: settings.clientCA, reason: "\(error)")
        }
        guard !chain.isEmpty else { throw .tls(field: "certificate", path: settings.certificate, reason: "no certificate in the file") }
        guard !roots.isEmpty else { throw .tls(field: "client-ca", path: settings.clientCA, reason: "no certificate in the file") }
        var configuration = TLSConfiguration.makeServerConfigurationWithMTLS(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key), trustRoots: .certificates(roots))
        configuration.minimumTLSVersion = .tlsv12
        configuration.sendCANameList = true
        do { tls = try NIOSSLContext(configuration: configuration) } catch {
            throw .tls(field: "certificate", path: settings.certificate, reason: "TLS context: \(error)")
        }
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
    }

    /// Binds the listener. Returns the bound port.
    @discardableResult
    public func start() async throws(KeyDeliveryStartError) -> Int {
        let limits = ETSIRequest.Limits(
            defaultKeySize: settings.defaultKeySize, minKeySize: settings.minKeySize, maxKeySize: settings.maxKeySize,
            maxKeysPerRequest: settings.maxKeysPerRequest, maxBodyBytes: settings.maxBodyBytes)
        let timeout = TimeAmount.nanoseconds(Int64(min(settings.idleTimeout, UInt64(Int64.max))))
        var names: [NodeID: String] = [:]
        for n in core.node.configuration.topology.nodes { names[n.id] = n.name }
        let kmeNames = names
        let server = self
        do {
            let bound = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 1024)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let n = server.active.wrappingAdd(1, ordering: .relaxed).newValue
                        channel.closeFuture.whenComplete { _ in server.active.wrappingSubtract(1, ordering: .relaxed) }
                        guard n <= server.settings.maxConnections else {
                            server.core.metrics.connectionsRefused.increment()
                            channel.close(promise: nil)
                            return
                        }
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(
                            RevocationCheck.handler(context: server.tls, revoked: server.core.directory.revoked) {
                                server.core.metrics.revokedRefused.increment()
                            })
                        try sync.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                        try sync.addHandler(
                            ETSIChannelHandler(core: server.core, limits: limits, requestTimeout: timeout, kmeNames: kmeNames))
                    }
                }
                .bind(host: settings.listen.host, port: Int(settings.listen.port)).get()
            channel.withLock { $0 = bound }
            let port = bound.localAddress?.port ?? Int(settings.listen.port)
            logger.info("key delivery (ETSI GS QKD 014) listening", metadata: ["address": "\(settings.listen.host):\(port)"])
            return port
        } catch {
            throw .listen(what: "key delivery (HTTPS)", address: settings.listen.description, reason: "\(error)")
        }
    }

    /// Stops accepting, closes every connection and the event loop.
    public func stop() async {
        let c = channel.withLock { c in
            defer { c = nil }
            return c
        }
        try? await c?.close()
        try? await group.shutdownGracefully()
    }
}
