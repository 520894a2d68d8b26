import AKRPDevice
import Dispatch
import Synchronization

/// Reads a USB device's status (GET_STATUS) off the node's loop and off the USB event thread: one read at a
/// time on a private serial queue; the loop starts a read with ``begin(_:sequence:)`` and picks the outcome
/// up later with ``take()``, so a slow or hung device (libusb's control timeout is 2 s) never holds the loop.
final class DeviceStatusPoller: Sendable {
    /// The outcome of one read: the status (nil when the device was detached or closing) or the error.
    struct Outcome: Sendable {
        var result: Result<DeviceStatus?, DeviceError>
        /// ``DeviceHealth/eventSequence`` when the read began.
        var sequence: UInt64
    }

    private struct State: Sendable {
        var inFlight = false
        var stopped = false
        var outcome: Outcome?
    }

    private let queue: DispatchQueue
    private let state = Mutex(State())

    /// A poller for the device named `serial` (the name labels its queue).
    init(serial: String) {
        queue = DispatchQueue(label: "akrp.device-status.\(serial)")
    }

    /// Starts a status read of `source` unless one is under way, an outcome waits to be taken, or the poller
    /// was stopped. Never blocks.
    /// - Returns: whether a read was started.
    func begin(_ source: USBKeySource, sequence: UInt64) -> Bool {
        let start = state.withLock { s -> Bool in
            guard !s.inFlight, !s.stopped, s.outcome == nil else { return false }
            s.inFlight = true
            return true
        }
        guard start else { return false }
        queue.async { [self] in
            let result: Result<DeviceStatus?, DeviceError>
            do throws(DeviceError) {
                result = .success(try source.withDevice { (device: QKDDevice) throws(DeviceError) in try device.status() })
            } catch {
                result = .failure(error)
            }
            state.withLock { s in
                s.inFlight = false
                s.outcome = Outcome(result: result, sequence: sequence)
            }
        }
        return true
    }

    /// The outcome of the last read, once (nil while it runs or when none was started).
    func take() -> Outcome? {
        state.withLock { s in
            defer { s.outcome = nil }
            return s.outcome
        }
    }

    /// No read starts any more; waits for the one under way (bounded by libusb's control timeout). Call off
    /// the node's loop, before the source is closed.
    func stop() {
        state.withLock { $0.stopped = true }
        queue.sync {}
    }
}
