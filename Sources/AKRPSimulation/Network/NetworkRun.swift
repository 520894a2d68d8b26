import AKRPEngine

/// What the simulator's network runs share — AKRP on engines (`EngineNetworkRun`) and the baselines
/// (`BaselineNetworkRun`): one event loop over virtual time, and one way a run ends in metrics.
protocol NetworkRun: AnyObject {
    associatedtype Event
    var kind: ProtocolKind { get }
    var routing: RoutingPolicy { get }
    var scenario: Scenario { get }
    var outcomes: Outcomes { get }
    var counters: RunCounters { get set }
    var queue: EventQueue<Event> { get set }
    var now: Nanoseconds { get set }
    /// End of the drain: events after it are not run.
    var end: Nanoseconds { get }
    /// Handles one event at `now`.
    func step(_ event: Event)
}

extension NetworkRun {
    /// Runs the queued events in time order up to `end`, reporting the fraction of simulated time done
    /// now and then; returns how many events ran.
    func runEvents(progress: ((Double) -> Void)?) -> Int {
        var steps = 0
        while let (t, ev) = queue.pop() {
            if t > end { break }
            now = t
            step(ev)
            steps += 1
            if steps & 0xFFFF == 0 { progress?(Double(now) / Double(end)) }
        }
        return steps
    }

    /// Closes the run after `steps` events: requests still open are unfinished; returns the metrics and
    /// (when the scenario records one) the trace lines.
    func finish(workload: String, steps: Int) -> (ProtocolResult, [String]) {
        for i in outcomes.outcome.indices where outcomes.outcome[i] == .pending { outcomes.outcome[i] = .unfinished }
        counters.events = UInt64(steps)
        let result = ProtocolResult(
            protocol: kind, routing: routing, workload: workload, scenario: scenario, outcomes: outcomes,
            counters: counters)
        let trace = scenario.recordTrace ? traceLines(protocol: kind, routing: routing, scenario: scenario, outcomes: outcomes) : []
        return (result, trace)
    }
}
