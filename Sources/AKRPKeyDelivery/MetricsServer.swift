public import AKRPConfig
import NIOCore
import NIOHTTP1
import NIOPosix
public import Prometheus
import Synchronization

/// `/metrics` in the Prometheus text format over plain HTTP, on its own listener (`metrics-listen`,
/// loopback by default in docs/KEY-DELIVERY.md). `refresh` runs before each scrape (gauges sampled from
/// the node).
public final class MetricsServer: Sendable {
    let registry: PrometheusCollectorRegistry
    let refresh: @Sendable () async -> Void
    let group: MultiThreadedEventLoopGroup
    let channel = Mutex<(any Channel)?>(nil)

    /// A server for `registry`, not yet listening; `refresh` runs before each scrape.
    public init(registry: PrometheusCollectorRegistry, refresh: @escaping @Sendable () async -> Void) {
        self.registry = registry
        self.refresh = refresh
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// Binds `address`. Returns the bound port.
    @discardableResult
    public func start(address: NetworkAddress) async throws(KeyDeliveryStartError) -> Int {
        let server = self
        do {
            let bound = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(MetricsHandler(server: server))
                    }
                }
                .bind(host: address.host, port: Int(address.port)).get()
            channel.withLock { $0 = bound }
            return bound.localAddress?.port ?? Int(address.port)
        } catch {
            throw .listen(what: "metrics", address: address.description, reason: "\(error)")
        }
    }

    /// Closes the listener (if bound) and shuts its event loop down.
    public func stop() async {
        let c = channel.withLock { c in
            defer { c = nil }
            return c
        }
        try? await c?.close()
        try? await group.shutdownGracefully()
    }
}

final class MetricsHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let server: MetricsServer
    var head: HTTPRequestHead?

    init(server: MetricsServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let h = head else { return }
            head = nil
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            guard h.method == .GET, h.uri == "/metrics" || h.uri.hasPrefix("/metrics?") else {
                write(context: context, head: h, status: .notFound, body: Array("only GET /metrics\n".utf8))
                return
            }
            let server = self.server
            Task {
                await server.refresh()
                var text: [UInt8] = []
                server.registry.emit(into: &text)
                let body = text
                loop.execute {
                    let (handler, context) = bound.value
                    handler.write(context: context, head: h, status: .ok, body: body)
                }
            }
        }
    }

    func write(context: ChannelHandlerContext, head h: HTTPRequestHead, status: HTTPResponseStatus, body: [UInt8]) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; version=0.0.4")
        headers.add(name: "Content-Length", value: "\(body.count)")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
