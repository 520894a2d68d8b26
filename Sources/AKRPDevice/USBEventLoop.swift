internal import CAKRPDeviceShims
internal import CLibUSB
import Glibc
import Synchronization

/// Event threads of all ``USBEventLoop``s of the process that have not finished yet.
private let runningEventLoops = Atomic<Int>(0)

/// The libusb context and the thread that handles its events: the part of a ``USBContext`` that
/// lives as long as anything still needs it.
///
/// The thread holds this object, not the ``USBContext`` facade, so that the facade can go away
/// (and ask the thread to stop) while the thread still runs. The thread ends — and only then
/// calls `libusb_exit`, itself, so nobody ever joins it — once a stop was requested, no device
/// handle is open and no deferred work is queued. Device handles are counted
/// (``acquireHandle()`` / ``releaseHandle()``): while one is open, its transfers may still need
/// completing, so the thread keeps running.
final class USBEventLoop: @unchecked Sendable {
    /// The libusb context; valid until the thread ends (never while a handle is open).
    let raw: OpaquePointer

    private struct State {
        var stopRequested = false
        var exited = false
        var openHandles = 0
        /// Callers between queuing work and interrupting the event handler (they still use `raw`).
        var interrupters = 0
        var events: [HotplugEvent] = []
        var work: [@Sendable () -> Void] = []
        var failures: UInt64 = 0
        var lastError: DeviceError?
    }

    private let state = Mutex(State())
    private let listeners = Mutex<[UInt64: @Sendable (HotplugEvent) -> Void]>([:])
    private let nextListener = Atomic<UInt64>(1)
    /// Set by the event thread itself when it starts, so ``onEventThread`` never races its creation.
    private let eventThread = Mutex<pthread_t?>(nil)
    private let finished = WakeSignal()
    // Written only in init, before the thread starts; read by the thread afterwards.
    private var hotplugHandle: libusb_hotplug_callback_handle = 0
    private var hotplugRegistered = false

    /// Event threads of the process that have not finished (for diagnostics and tests).
    static var running: Int { runningEventLoops.load(ordering: .acquiring) }

    /// Creates a libusb context and starts its event thread.
    init(hotplug: Bool) throws(DeviceError) {
        var context: OpaquePointer?
        let result = libusb_init(&context)
        guard result == 0, let context else { throw .usb(USBError(rawValue: result), operation: "libusb_init") }
        raw = context
        let level = CAKRPDeviceShims_set_log_level(context, Int32(LIBUSB_LOG_LEVEL_NONE.rawValue))
        guard level == 0 else {
            libusb_exit(context)
            throw .usb(USBError(rawValue: level), operation: "libusb_set_option(LOG_LEVEL)")
        }
        if hotplug, libusb_has_capability(UInt32(LIBUSB_CAP_HAS_HOTPLUG.rawValue)) != 0 {
            // Unretained: the thread, which retains self, deregisters before it lets go of self.
            let unmanaged = Unmanaged.passUnretained(self).toOpaque()
            let events = Int32(LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED.rawValue | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT.rawValue)
            let status = libusb_hotplug_register_callback(
                context, events, 0, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
                usbHotplugTrampoline, unmanaged, &hotplugHandle)
            if status != 0 {
                libusb_exit(context)
                throw .usb(USBError(rawValue: status), operation: "libusb_hotplug_register_callback")
            }
            hotplugRegistered = true
        }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        runningEventLoops.add(1, ordering: .acquiringAndReleasing)
        let box = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, &attributes, { argument in
            let loop = Unmanaged<USBEventLoop>.fromOpaque(argument!).takeRetainedValue()
            loop.run()
            return nil
        }, box)
        guard created == 0 else {
            runningEventLoops.subtract(1, ordering: .acquiringAndReleasing)
            Unmanaged<USBEventLoop>.fromOpaque(box).release()
            if hotplugRegistered { libusb_hotplug_deregister_callback(context, hotplugHandle) }
            libusb_exit(context)
            throw .usb(.noMemory, operation: "pthread_create")
        }
    }

    // MARK: the thread

    private func run() {
        eventThread.withLock { $0 = pthread_self() }
        while true {
            let done = state.withLock { s -> Bool in
                guard s.stopRequested, s.openHandles == 0, s.work.isEmpty, s.interrupters == 0 else { return false }
                s.exited = true
                return true
            }
            if done { break }
            var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
            let status = libusb_handle_events_timeout_completed(raw, &timeout, nil)
            if status < 0, status != USBError.interrupted.rawValue {
                state.withLock { s in
                    s.failures += 1
                    s.lastError = .usb(USBError(rawValue: status), operation: "libusb_handle_events_timeout_completed")
                }
                usleep(10_000)  // a persistent failure must not turn the thread into a busy loop
            }
            runPending()
        }
        // No handle is open and none can be opened any more: nobody else uses the context.
        if hotplugRegistered { libusb_hotplug_deregister_callback(raw, hotplugHandle) }
        libusb_exit(raw)
        runningEventLoops.subtract(1, ordering: .acquiringAndReleasing)
        finished.signal()
    }

    private func runPending() {
        let (events, work) = state.withLock { s in
            defer {
                s.events.removeAll()
                s.work.removeAll()
            }
            return (s.events, s.work)
        }
        if !events.isEmpty {
            let callbacks = listeners.withLock { Array($0.values) }
            for event in events { for callback in callbacks { callback(event) } }
        }
        for item in work { item() }
    }

    // MARK: from any thread

    /// Whether the caller is the event thread.
    var onEventThread: Bool {
        eventThread.withLock { thread in thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
    }

    /// Runs `work` on the event thread, outside any libusb callback, soon.
    /// - Returns: `false` when the thread has finished: `work` will never run (and is released).
    @discardableResult
    func schedule(_ work: @escaping @Sendable () -> Void) -> Bool {
        let queued = state.withLock { s -> Bool in
            guard !s.exited else { return false }
            s.work.append(work)
            s.interrupters += 1
            return true
        }
        guard queued else { return false }
        interruptAndLeave()
        return true
    }

    /// Asks the thread to finish once no handle is open and no work is queued.
    func requestStop() {
        let interrupt = state.withLock { s -> Bool in
            guard !s.exited else { return false }
            s.stopRequested = true
            s.interrupters += 1
            return true
        }
        if interrupt { interruptAndLeave() }
    }

    /// Wakes the thread out of `libusb_handle_events…` (the caller registered as an interrupter,
    /// which keeps the context alive until here).
    private func interruptAndLeave() {
        libusb_interrupt_event_handler(raw)
        state.withLock { $0.interrupters -= 1 }
    }

    /// Counts a device handle about to be opened; it keeps the thread and the context alive.
    /// - Throws: when a stop was requested (``USBContext/shutdown()`` or the context went away).
    func acquireHandle() throws(DeviceError) {
        let accepted = state.withLock { s -> Bool in
            guard !s.stopRequested, !s.exited else { return false }
            s.openHandles += 1
            return true
        }
        guard accepted else { throw .usb(.invalidParameter, operation: "libusb_open after USBContext.shutdown()") }
    }

    /// Uncounts a device handle that was closed (or never opened).
    func releaseHandle() {
        let interrupt = state.withLock { s -> Bool in
            s.openHandles -= 1
            guard s.openHandles == 0, s.stopRequested, !s.exited else { return false }
            s.interrupters += 1
            return true
        }
        if interrupt { interruptAndLeave() }
    }

    /// Open device handles.
    var openHandles: Int { state.withLock { $0.openHandles } }
    /// Whether the thread has finished (and libusb was released).
    var hasFinished: Bool { state.withLock { $0.exited } }
    /// Failed event-handling rounds and the last such failure.
    var failures: (count: UInt64, last: DeviceError?) { state.withLock { ($0.failures, $0.lastError) } }

    /// Blocks until the thread has finished, unless a device handle is still open (then the
    /// thread ends when the last one closes, and this returns at once). Never call on the thread.
    func waitUntilFinishedIfIdle() {
        while true {
            let seen = finished.current
            let (exited, busy) = state.withLock { ($0.exited, $0.openHandles > 0) }
            if exited || busy { return }
            finished.wait(after: seen, milliseconds: 1_000)
        }
    }

    // MARK: hotplug

    fileprivate func enqueue(_ event: HotplugEvent) {
        state.withLock { $0.events.append(event) }
    }

    func addListener(_ handler: @escaping @Sendable (HotplugEvent) -> Void) -> UInt64 {
        let token = nextListener.add(1, ordering: .relaxed).oldValue
        listeners.withLock { $0[token] = handler }
        return token
    }

    func removeListener(_ token: UInt64) {
        _ = listeners.withLock { $0.removeValue(forKey: token) }
    }
}

/// Enqueues only: libusb must not be called back into from a hotplug callback.
private func usbHotplugTrampoline(
    _ context: OpaquePointer?, _ device: OpaquePointer?, _ event: libusb_hotplug_event, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let device, let userData else { return 0 }
    var descriptor = libusb_device_descriptor()
    guard libusb_get_device_descriptor(device, &descriptor) == 0,
        QKDUSB.supportedIDs.contains(QKDUSB.DeviceID(vendor: descriptor.idVendor, product: descriptor.idProduct))
    else { return 0 }
    let loop = Unmanaged<USBEventLoop>.fromOpaque(userData).takeUnretainedValue()
    let kind: HotplugEvent.Kind = event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED ? .arrived : .left
    loop.enqueue(HotplugEvent(kind: kind, bus: libusb_get_bus_number(device), address: libusb_get_device_address(device)))
    return 0
}
