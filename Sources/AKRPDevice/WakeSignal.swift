import Glibc

/// A counted wake-up between threads (a pthread condition variable), so that waiting never spins.
final class WakeSignal: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var generation: UInt64 = 0

    init() {
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    /// Wakes every waiter.
    func signal() {
        pthread_mutex_lock(&mutex)
        generation &+= 1
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }

    /// The current generation, to wait for a change after checking some condition.
    var current: UInt64 {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return generation
    }

    /// Blocks until a ``signal()`` after generation `seen`, or `milliseconds` elapse.
    /// - Returns: `false` on timeout.
    @discardableResult
    func wait(after seen: UInt64, milliseconds: Int) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let nanos = Int(deadline.tv_nsec) + (milliseconds % 1000) * 1_000_000
        deadline.tv_sec += milliseconds / 1000 + nanos / 1_000_000_000
        deadline.tv_nsec = nanos % 1_000_000_000
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while generation == seen {
            if pthread_cond_timedwait(&condition, &mutex, &deadline) == ETIMEDOUT { return generation != seen }
        }
        return true
    }
}
