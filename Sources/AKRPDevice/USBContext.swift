internal import CAKRPDeviceShims
internal import CLibUSB
import Glibc
import Synchronization

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
/// context's own event thread (started at creation, stopped in ``shutdown()`` or `deinit`).
/// Hotplug callbacks only enqueue; queued events and deferred work run on the event thread
/// between libusb event rounds, outside any libusb callback, so they may call libusb
/// synchronously. Device handles keep their context alive.
public final class USBContext: @unchecked Sendable {
    let raw: OpaquePointer
    private var thread = pthread_t()
    private var threadStarted = false
    private let stopping = Atomic<Bool>(false)
    private let pending = Mutex<(events: [HotplugEvent], work: [@Sendable () -> Void])>(([], []))
    private let listeners = Mutex<[UInt64: @Sendable (HotplugEvent) -> Void]>([:])
    private let nextListener = Atomic<UInt64>(1)
    private var hotplugHandle: libusb_hotplug_callback_handle = 0
    private var hotplugRegistered = false
    private let stopped = Mutex(false)

    /// Creates a context and starts its event thread.
    /// - Parameter hotplug: register for QKD device arrivals and departures (needs libusb
    ///   hotplug support, present on Linux).
    /// - Throws: ``DeviceError/usb(_:operation:)`` when libusb cannot start.
    public init(hotplug: Bool = true) throws(DeviceError) {
        var context: OpaquePointer?
        let result = libusb_init(&context)
        guard result == 0, let context else { throw .usb(USBError(rawValue: result), operation: "libusb_init") }
        raw = context
        _ = CAKRPDeviceShims_set_log_level(context, Int32(LIBUSB_LOG_LEVEL_NONE.rawValue))
        if hotplug, libusb_has_capability(UInt32(LIBUSB_CAP_HAS_HOTPLUG.rawValue)) != 0 {
            let unmanaged = Unmanaged.passUnretained(self).toOpaque()
            let events = Int32(LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED.rawValue | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT.rawValue)
            // The registration is removed in shutdown() before self goes away, so the unretained
            // context pointer never outlives the object.
            let status = libusb_hotplug_register_callback(
                context, events, 0, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
                usbHotplugTrampoline, unmanaged, &hotplugHandle)
            if status != 0 {
                libusb_exit(context)
                throw .usb(USBError(rawValue: status), operation: "libusb_hotplug_register_callback")
            }
            hotplugRegistered = true
        }
        let box = Unmanaged.passRetained(self).toOpaque()
        let created = pthread_create(&thread, nil, { argument in
            let context = Unmanaged<USBContext>.fromOpaque(argument!).takeRetainedValue()
            context.runEventLoop()
            return nil
        }, box)
        guard created == 0 else {
            Unmanaged<USBContext>.fromOpaque(box).release()
            if hotplugRegistered { libusb_hotplug_deregister_callback(context, hotplugHandle) }
            libusb_exit(context)
            throw .usb(.noMemory, operation: "pthread_create")
        }
        threadStarted = true
    }

    deinit {
        finishShutdown()
    }

    /// Stops the event thread and releases libusb. Call after closing every device and stopping
    /// every stream of this context; never from the event thread.
    public func shutdown() {
        finishShutdown()
    }

    private func finishShutdown() {
        let alreadyStopped = stopped.withLock { done -> Bool in
            defer { done = true }
            return done
        }
        guard !alreadyStopped else { return }
        if hotplugRegistered { libusb_hotplug_deregister_callback(raw, hotplugHandle) }
        stopping.store(true, ordering: .releasing)
        if threadStarted, !pthread_equal(pthread_self(), thread).isTrue {
            libusb_interrupt_event_handler(raw)
            pthread_join(thread, nil)
        }
        libusb_exit(raw)
    }

    private func runEventLoop() {
        while !stopping.load(ordering: .acquiring) {
            var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
            _ = libusb_handle_events_timeout_completed(raw, &timeout, nil)
            runPending()
        }
        runPending()
    }

    private func runPending() {
        let (events, work) = pending.withLock { queued in
            defer { queued = ([], []) }
            return queued
        }
        if !events.isEmpty {
            let callbacks = listeners.withLock { Array($0.values) }
            for event in events { for callback in callbacks { callback(event) } }
        }
        for item in work { item() }
    }

    /// Runs `work` on the event thread, outside any libusb callback, soon.
    func schedule(_ work: @escaping @Sendable () -> Void) {
        pending.withLock { $0.work.append(work) }
        libusb_interrupt_event_handler(raw)
    }

    /// Whether the caller is on this context's event thread.
    var onEventThread: Bool { threadStarted && pthread_equal(pthread_self(), thread) != 0 }

    fileprivate func enqueue(_ event: HotplugEvent) {
        pending.withLock { $0.events.append(event) }
    }

    /// Calls `handler` on the event thread for every hotplug event until the returned token is
    /// passed to ``removeHotplugListener(_:)``.
    public func addHotplugListener(_ handler: @escaping @Sendable (HotplugEvent) -> Void) -> UInt64 {
        let token = nextListener.add(1, ordering: .relaxed).oldValue
        listeners.withLock { $0[token] = handler }
        return token
    }

    /// Stops calling a listener added with ``addHotplugListener(_:)``.
    public func removeHotplugListener(_ token: UInt64) {
        _ = listeners.withLock { $0.removeValue(forKey: token) }
    }
}

extension Int32 {
    fileprivate var isTrue: Bool { self != 0 }
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
    let owner = Unmanaged<USBContext>.fromOpaque(userData).takeUnretainedValue()
    let kind: HotplugEvent.Kind = event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED ? .arrived : .left
    owner.enqueue(HotplugEvent(kind: kind, bus: libusb_get_bus_number(device), address: libusb_get_device_address(device)))
    return 0
}
