public import ServiceLifecycle

/// The box as a service of swift-service-lifecycle: runs until a graceful shutdown (SIGTERM, SIGINT)
/// is requested, then drains — new key requests refused, requests in flight given `drainDeadline` to
/// finish — and stops, wiping every key it holds.
public struct NodeService: Service {
    /// The box this service starts and stops.
    public let node: RelayNode
    /// Nanoseconds requests in flight may take to finish once shutdown starts.
    public let drainDeadline: UInt64

    /// A service for `node`; `drainDeadline` in nanoseconds (default 5 s).
    public init(node: RelayNode, drainDeadline: UInt64 = 5_000_000_000) {
        self.node = node
        self.drainDeadline = drainDeadline
    }

    /// Starts the box, waits for a graceful shutdown or a restart the box asks for (SMP reset, rollback),
    /// then drains and stops it.
    /// - Throws: ``NodeStartError`` when the box cannot start.
    public func run() async throws {
        try await node.start()
        // Until a graceful shutdown, or a restart the box asks for itself (SMP reset, configuration rollback).
        let restart = node.restartSignal.stream
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await gracefulShutdown() }
            group.addTask { for await _ in restart { break } }
            await group.next()
            group.cancelAll()
        }
        await node.shutdown(deadline: drainDeadline)
    }
}
