#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AKRPEngine

/// The box's engine time: nanoseconds since the Unix epoch, never going backwards.
///
/// Engine time crosses boxes (request deadlines travel in messages, simulated key streams start at a
/// shared epoch), so it is wall-clock time — boxes are expected to run NTP. A wall clock can step back;
/// the engine's time must not, so a step back holds time still until the clock catches up.
/// The corresponding C function is `clock_gettime(CLOCK_REALTIME)`.
struct WallClock {
    private var last: Nanoseconds = 0

    /// The current engine time.
    mutating func now() -> Nanoseconds {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let t = UInt64(max(0, ts.tv_sec)) &* 1_000_000_000 &+ UInt64(max(0, ts.tv_nsec))
        if t > last { last = t }
        return last
    }
}
