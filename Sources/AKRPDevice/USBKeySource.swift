public import AKRPEngine
public import AKRPKeySource

/// A ``KeySource`` fed by a QKD device over USB.
///
/// Frames arrive by asynchronous bulk IN transfers that complete on the ``USBContext``'s event
/// thread; each frame is checked (magic, length, CRC-32C, link, unit size, contiguous index),
/// its units are copied to a fixed staging ring and the transfer buffer is wiped. The owner's
/// loop moves staged units into its ``KeySink`` with ``deliver(at:into:)`` — the only handoff
/// between the threads, under a mutex; it never waits for the device.
///
/// Backpressure: transfers are sized and submitted only for units the sink had room for at the
/// last ``deliver(at:into:)`` minus what is already staged or in flight, so no IN transfer is
/// outstanding while the sink is full. Call ``deliver(at:into:)`` again after the sink frees
/// room. Readiness: an event loop passes ``onReady`` (called on the USB event thread, must not
/// block: hand over to the loop and return) and polls ``stagedUnits`` without blocking; tools
/// may block in ``waitForUnits(milliseconds:)``.
///
/// Faults: a stalled endpoint is cleared; a rejected frame (bad CRC, wrong link, gap) is counted
/// and the device is resynchronised to the next expected unit. On unplug the source reports
/// ``KeySourceError/deviceUnavailable`` once staged units are delivered, and keeps
/// ``lastError``; when a device with the same serial is plugged in again it resumes from the
/// unit after the last one staged or held by the sink. Units the device lost meanwhile are
/// announced to the sink as discarded, never delivered. A replugged device that cannot be opened
/// is counted (``Counters/reattachFailures``) and kept as ``lastError``.
///
/// Closing (``close()``, or releasing the source): transfers in flight are cancelled and the
/// device is stopped and released only after libusb has handed every one of them back.
public final class USBKeySource: KeySource, @unchecked Sendable {
    /// Counters of the stream (monotonic since creation).
    public struct Counters: Equatable, Sendable {
        /// Frames accepted.
        public var framesAccepted: UInt64 = 0
        /// Units accepted into staging.
        public var unitsAccepted: UInt64 = 0
        /// Units delivered to the sink.
        public var unitsDelivered: UInt64 = 0
        /// Units announced to the sink as lost.
        public var unitsDiscarded: UInt64 = 0
        /// Frames rejected for a bad CRC-32C.
        public var badCRC: UInt64 = 0
        /// Frames rejected for another link or unit size.
        public var wrongLink: UInt64 = 0
        /// Frames rejected for an index that does not continue the stream.
        public var nonContiguous: UInt64 = 0
        /// Frames rejected for a malformed header or length.
        public var malformed: UInt64 = 0
        /// Frames dropped while a resynchronisation was pending.
        public var droppedDuringResync: UInt64 = 0
        /// Endpoint stalls cleared.
        public var stalls: UInt64 = 0
        /// Times the device went away.
        public var unplugs: UInt64 = 0
        /// Times the device came back and the stream resumed.
        public var reattachments: UInt64 = 0
        /// Times a device with this serial came back but could not be taken over (open, claim,
        /// GET_INFO or STREAM_STOP failed, or it serves another link); see ``USBKeySource/lastError``.
        public var reattachFailures: UInt64 = 0
        /// Other failed libusb calls that had no caller to throw to (submitting a transfer,
        /// starting, resynchronising or stopping the stream, clearing a halt); see
        /// ``USBKeySource/lastError``.
        public var failedCalls: UInt64 = 0
        /// Events dropped because nobody took them.
        public var eventsDropped: UInt64 = 0
    }

    /// See ``KeySource/link``.
    public let link: LinkID
    /// See ``KeySource/unitSize``.
    public let unitSize: Int
    /// The device's serial number.
    public let serial: String
    /// Called on the event thread when units have been staged, a device event arrived or the
    /// device state changed. Must return quickly; it may call ``close()`` (which then does not wait).
    public let onReady: (@Sendable () -> Void)?
    let stream: USBKeyStream
    var context: USBContext { stream.context }

    /// Opens the device with serial number `serial` and prepares (does not start) its stream.
    ///
    /// - Parameters:
    ///   - transfers: bulk IN transfers kept in flight at most (each one frame).
    ///   - stagingUnits: capacity of the staging ring, units (0 = 4 frames per transfer).
    ///   - onReady: called on the event thread when units are staged or the device comes or goes.
    /// - Throws: ``DeviceError`` when the device is not attached, cannot be opened or stopped,
    ///   its GET_INFO reply is unusable, or libusb cannot allocate the transfers.
    public init(
        serial: String, context: USBContext, transfers: Int = 4, stagingUnits: Int = 0,
        onReady: (@Sendable () -> Void)? = nil
    ) throws(DeviceError) {
        let device = try QKDDevice.open(serial: serial, in: context)
        let info = try device.info()
        guard (1...4096).contains(info.unitSize), (1...4096).contains(info.maxFrameUnits) else {
            throw .malformedReply(request: "GET_INFO", reason: "unit size \(info.unitSize), frame units \(info.maxFrameUnits)")
        }
        try device.stopStream()
        stream = try USBKeyStream(
            device: device, info: info, transfers: transfers, stagingUnits: stagingUnits, onReady: onReady)
        self.serial = serial
        self.link = info.link
        self.unitSize = info.unitSize
        self.onReady = onReady
        stream.start()
    }

    deinit {
        stream.beginClose()  // the stream lives on until its transfers are back, then tears down
    }

    /// Stops the stream and releases the device once every transfer in flight has been cancelled
    /// and handed back by libusb. Off the event thread it waits for that (however long libusb
    /// takes, never giving up on a timer); on the event thread (e.g. from ``onReady``) it only
    /// starts closing and returns: the teardown follows when the last transfer is back
    /// (``isClosed``). The source delivers what is staged afterwards and then reports
    /// ``KeySourceError/deviceUnavailable``. Calling it again does nothing more.
    public func close() {
        stream.beginClose()
        if !context.onEventThread { stream.waitUntilClosed() }
    }

    // MARK: KeySource

    /// See ``KeySource/deliver(at:into:)``. `now` is not used: units are ready when staged. Takes
    /// the source's mutex and submits transfers; never waits for the device.
    /// - Throws: ``KeySourceError/deviceUnavailable`` when nothing is staged and the device is
    ///   detached or the source closed; ``KeySourceError/sink(_:)`` when the sink refuses.
    public func deliver<Sink: KeySink & ~Copyable>(at now: Nanoseconds, into sink: inout Sink)
        throws(KeySourceError) -> Int
    {
        try stream.deliver(into: &sink)
    }

    /// See ``KeySource/nextReadyTime(after:)``: always `nil`; readiness comes from ``onReady``.
    public func nextReadyTime(after now: Nanoseconds) -> Nanoseconds? { nil }

    /// Blocks until units are staged or the device state changes, at most `milliseconds`.
    /// For tools and tests; an event loop uses ``onReady`` and ``stagedUnits`` instead.
    /// - Returns: whether units are staged now.
    @discardableResult
    public func waitForUnits(milliseconds: Int) -> Bool {
        stream.waitForUnits(milliseconds: milliseconds)
    }

    /// Units staged and waiting for ``deliver(at:into:)`` (never blocks).
    public var stagedUnits: Int { stream.stagedUnits }
    /// The stream's counters.
    public var counters: Counters { stream.counters }
    /// The last device error (e.g. ``DeviceError/unplugged(serial:)``), kept after recovery.
    public var lastError: DeviceError? { stream.lastError }
    /// Whether the device is attached and open.
    public var isAttached: Bool { stream.isAttached }
    /// Whether the device is streaming.
    public var isStreaming: Bool { stream.isStreaming }
    /// Whether closing has finished: no transfer in flight, the device stopped and released.
    public var isClosed: Bool { stream.isClosed }
    /// Transfers (key and event) that libusb holds now.
    public var transfersInFlight: Int { stream.transfersInFlight }

    /// Takes the events received from the interrupt endpoint since the last call.
    public func takeEvents() -> [DeviceEvent] { stream.takeEvents() }

    /// Runs `body` with the open device (e.g. to read its status), or returns `nil` if detached
    /// or closing. Not on the event thread.
    public func withDevice<T>(_ body: (QKDDevice) throws(DeviceError) -> T) throws(DeviceError) -> T? {
        try stream.withDevice(body)
    }
}
