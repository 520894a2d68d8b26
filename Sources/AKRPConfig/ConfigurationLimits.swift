public import AKRPEngine

/// The allowed range of every bounded setting of a ``NodeConfiguration``: one table shared by the text
/// parser (its messages), ``NodeConfiguration/validate()`` and docs/CONFIG.md. The bounds keep every
/// value usable without overflow: times stay far below `UInt64.max` nanoseconds when added to a
/// clock, counts stay small enough that tables can be allocated.
public enum ConfigurationLimits {
    /// Nanoseconds per millisecond.
    public static let millisecond: Nanoseconds = 1_000_000
    /// Nanoseconds per second.
    public static let second: Nanoseconds = 1_000_000_000
    /// Longest duration of any timer setting: one day.
    public static let longestDuration: Nanoseconds = 86_400 * second

    /// `unit-size`, bytes: a frame is authenticated with one unit, which must hold a 32-byte key.
    public static let unitSize: ClosedRange<Int> = 32...4096
    /// `pool-capacity`, units per link end.
    public static let poolCapacity: ClosedRange<Int> = 2...1_048_576
    /// `ownership-block`, units.
    public static let ownershipBlock: ClosedRange<UInt64> = 1...65_536
    /// `max-request-units`, units (also at most 65,535 bytes and at most `pool-capacity`).
    public static let maxRequestUnits: ClosedRange<Int> = 1...256
    /// Largest request in bytes (`max-request-units` × `unit-size`).
    public static let maxRequestBytes = 65_535
    /// `records`, `sources`, `accumulators`.
    public static let tableCapacity: ClosedRange<Int> = 1...1_000_000
    /// `outbox`, `events`.
    public static let bufferCapacity: ClosedRange<Int> = 16...1_000_000
    /// `max-neighbours`.
    public static let maxNeighbours: ClosedRange<Int> = 1...4096
    /// `paths`.
    public static let paths: ClosedRange<Int> = 1...4
    /// `reroutes`.
    public static let reroutes: ClosedRange<Int> = 0...16
    /// `abort-attempts`.
    public static let abortAttempts: ClosedRange<Int> = 1...100
    /// `link-state-radius`, hops.
    public static let linkStateRadius: ClosedRange<Int> = 1...16
    /// `eta-deviations`.
    public static let etaDeviations: ClosedRange<Double> = 0...10
    /// `delivered-hold-ms`, nanoseconds (at most 10 s).
    public static let deliveredHold: ClosedRange<Nanoseconds> = 0...10_000_000_000
    /// `detour-reserve`, key blocks.
    public static let detourReserve: ClosedRange<Double> = 0...10
    /// `link-state-hold-ms`, nanoseconds (at most 10 s).
    public static let linkStateHold: ClosedRange<Nanoseconds> = 0...10_000_000_000
    /// `frame-hold-ms`, nanoseconds (at most 10 s).
    public static let frameHold: ClosedRange<Nanoseconds> = 0...10_000_000_000
    /// Timer settings that may be zero (`latency-budget-ms`, `completion-grace-ms`, …), nanoseconds.
    public static let duration: ClosedRange<Nanoseconds> = 0...longestDuration
    /// Timer settings that must be positive (`lease-ms`, `retry-interval-ms`, `request-timeout-ms`, …).
    public static let positiveDuration: ClosedRange<Nanoseconds> = 1...longestDuration
    /// Memory the engine may allocate at start-up (pools, tables), bytes: 4 GiB.
    public static let engineMemory = 4 << 30

    /// `high-water-step`, units.
    public static let highWaterStep: ClosedRange<UInt64> = 1...(1 << 32)
    /// `[keys] capacity`, keys.
    public static let keyStoreCapacity: ClosedRange<Int> = 1...1_000_000
    /// `keepalive-s`, seconds.
    public static let keepAliveSeconds: ClosedRange<Int> = 1...3600
    /// `pending-frames`, `pending-messages`.
    public static let pending: ClosedRange<Int> = 1...1_000_000

    /// Nodes in the topology.
    public static let topologyNodes: ClosedRange<Int> = 1...65_535
    /// Links in the topology.
    public static let topologyLinks: ClosedRange<Int> = 0...1_000_000
    /// Bytes of a node name (`[A-Za-z0-9._-]`, not only digits).
    public static let nodeNameBytes: ClosedRange<Int> = 1...64
    /// A link's or a simulated source's rate, bits per second.
    public static let bitsPerSecond: ClosedRange<UInt64> = 1...1_000_000_000_000
    /// A link's one-way delay (`delay-ms`): at most one hour.
    public static let linkDelay: ClosedRange<Nanoseconds> = 0...(3_600 * second)
    /// A simulated source's block period (`block-ms`): at most one hour.
    public static let blockPeriod: ClosedRange<Nanoseconds> = 0...(3_600 * second)
    /// A simulated source's jitter, a fraction of the block period.
    public static let jitter: ClosedRange<Double> = 0...0.9

    /// Bytes of a path (`control-socket`, `state-dir`, a trace `path`).
    public static let pathBytes: ClosedRange<Int> = 1...4096
    /// Bytes of the control socket path (a Unix socket address holds 107 bytes and a NUL).
    public static let controlSocketBytes: ClosedRange<Int> = 1...107
    /// Bytes of a USB serial number (a USB string descriptor holds 126 characters).
    public static let serialBytes: ClosedRange<Int> = 1...126
    /// Bytes of a host name or IP literal.
    public static let hostBytes: ClosedRange<Int> = 1...253

    /// Log levels, least severe first.
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
}
