public import AKRPEngine

/// Runs one protocol with one routing policy on a scenario.
public enum ProtocolRunner {
    /// What one run produced.
    public struct Output: Sendable {
        /// The run's metrics.
        public var result: ProtocolResult
        /// `--trace` JSON lines (empty unless the scenario records a trace).
        public var trace: [String]
        /// Engine memory allocated at start-up, all nodes (0 for baselines).
        public var engineBytes: Int
    }

    /// Runs `kind` with `routing` on `scenario`.
    /// - Throws: ``ConfigurationError`` when the engines cannot be configured for the scenario.
    public static func run(
        _ kind: ProtocolKind, routing: RoutingPolicy, scenario: Scenario, workload: String,
        progress: ((Double) -> Void)? = nil
    ) throws(ConfigurationError) -> Output {
        if kind.isEngine {
            let r = try EngineNetworkRun(scenario: scenario, kind: kind, routing: routing)
            let (result, trace) = r.run(workload: workload, progress: progress)
            return Output(result: result, trace: trace, engineBytes: r.totalEngineBytes)
        }
        let r = BaselineNetworkRun(scenario: scenario, kind: kind, routing: routing)
        let (result, trace) = r.run(workload: workload, progress: progress)
        return Output(result: result, trace: trace, engineBytes: 0)
    }
}
