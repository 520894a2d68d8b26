/// A device arrival or departure seen by libusb's hotplug support.
public struct HotplugEvent: Equatable, Sendable {
    /// Arrival or departure.
    public enum Kind: Equatable, Sendable {
        /// A QKD device was plugged in.
        case arrived
        /// A QKD device was unplugged.
        case left
    }
    /// Arrival or departure.
    public var kind: Kind
    /// USB bus number.
    public var bus: UInt8
    /// Device address on the bus.
    public var address: UInt8
}

/// The driver's libusb context and its event thread.
///
/// All asynchronous transfers of the devices opened through one context complete on this
/// context's own event thread (started at creation). Hotplug callbacks only enqueue; queued events
/// and deferred work run on the event thread between libusb event rounds, outside any libusb
/// callback, so they may call libusb synchronously.
///
/// Lifetime: every open device handle (``QKDDevice``) holds its context, and the context counts
/// them. The event thread stops on its own once the context is released (or ``shutdown()`` was
/// called) *and* no handle is open any more — it must keep completing transfers until then — and
/// only then releases libusb (`libusb_exit`), itself; nobody joins it, so dropping the last
/// reference on the event thread itself (e.g. inside a hotplug listener) is safe.
public final class USBContext: @unchecked Sendable {
    let loop: USBEventLoop
    var raw: OpaquePointer { loop.raw }

    /// Creates a context and starts its event thread.
    /// - Parameter hotplug: register for QKD device arrivals and departures (needs libusb
    ///   hotplug support, present on Linux).
    /// - Throws: ``DeviceError/usb(_:operation:)`` when libusb cannot start.
    public init(hotplug: Bool = true) throws(DeviceError) {
        loop = try USBEventLoop(hotplug: hotplug)
    }

    deinit {
        loop.requestStop()
    }

    /// Stops the event thread and releases libusb, as the last release of the context does, and
    /// waits for it when that can be done now: when no device handle is open and the caller is
    /// not the event thread. With handles still open it returns at once; the thread then ends
    /// when the last handle closes. Opening devices through the context fails afterwards.
    public func shutdown() {
        loop.requestStop()
        guard !loop.onEventThread else { return }
        loop.waitUntilFinishedIfIdle()
    }

    /// Device handles open through this context.
    public var openDevices: Int { loop.openHandles }

    /// Whether the event thread still runs (it ends after ``shutdown()`` or the last release,
    /// once no handle is open).
    public var isRunning: Bool { !loop.hasFinished }

    /// Event-handling rounds that failed (`libusb_handle_events…` other than interrupted).
    public var eventLoopFailures: UInt64 { loop.failures.count }

    /// The last failure of an event-handling round, if any.
    public var lastEventLoopError: DeviceError? { loop.failures.last }

    /// Event threads of all contexts of the process that have not finished yet (diagnostics).
    public static var runningEventThreads: Int { USBEventLoop.running }

    /// Runs `work` on the event thread, outside any libusb callback, soon.
    /// - Returns: `false` when the event thread has finished and `work` will never run.
    @discardableResult
    func schedule(_ work: @escaping @Sendable () -> Void) -> Bool { loop.schedule(work) }

    /// Whether the caller is on this context's event thread.
    var onEventThread: Bool { loop.onEventThread }

    /// Calls `handler` on the event thread for every hotplug event until the returned token is
    /// passed to ``removeHotplugListener(_:)``.
    public func addHotplugListener(_ handler: @escaping @Sendable (HotplugEvent) -> Void) -> UInt64 {
        loop.addListener(handler)
    }

    /// Stops calling a listener added with ``addHotplugListener(_:)``.
    public func removeHotplugListener(_ token: UInt64) {
        loop.removeListener(token)
    }
}
