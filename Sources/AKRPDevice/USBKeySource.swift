public import AKRPEngine
public import AKRPKeySource
internal import CAKRPDeviceShims
internal import CLibUSB
import Synchronization

/// A ``KeySource`` fed by a QKD device over USB.
///
/// Frames arrive by asynchronous bulk IN transfers that complete on the ``USBContext``'s event
/// thread; each frame is checked (magic, length, CRC-32C, link, unit size, contiguous index),
/// its units are copied to a fixed staging ring and the transfer buffer is wiped. The owner's
/// loop moves staged units into its ``KeySink`` with ``deliver(at:into:)`` — the only handoff
/// between the threads, under a `Mutex`.
///
/// Backpressure: transfers are sized and submitted only for units the sink had room for at the
/// last ``deliver(at:into:)`` minus what is already staged or in flight, so no IN transfer is
/// outstanding while the sink is full. Call ``deliver(at:into:)`` again after the sink frees
/// room; ``onReady`` (or ``waitForUnits(milliseconds:)``) says when units are staged.
///
/// Faults: a stalled endpoint is cleared; a rejected frame (bad CRC, wrong link, gap) is counted
/// and the device is resynchronised to the next expected unit. On unplug the source reports
/// ``KeySourceError/deviceUnavailable`` once staged units are delivered, and keeps
/// ``lastError``; when a device with the same serial is plugged in again it resumes from the
/// unit after the last one staged or held by the sink. Units the device lost meanwhile are
/// announced to the sink as discarded, never delivered.
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
        /// Events dropped because nobody took them.
        public var eventsDropped: UInt64 = 0
    }

    /// See ``KeySource/link``.
    public let link: LinkID
    /// See ``KeySource/unitSize``.
    public let unitSize: Int
    /// The device's serial number.
    public let serial: String
    /// Called on the event thread when units have been staged or the device state changed.
    public let onReady: (@Sendable () -> Void)?
    let context: USBContext
    private let maxFrameUnits: Int
    private let stagingUnits: Int
    private let state: Mutex<State>
    private let wake = WakeSignal()
    private var hotplugToken: UInt64 = 0
    private let tags: [TransferTag]
    private let eventTag: TransferTag

    private struct Gap: Sendable {
        var units: Range<UnitIndex>
    }

    // Unchecked: the staging pointer is only touched under the mutex.
    private struct State: @unchecked Sendable {
        var device: QKDDevice?
        var attached = false
        var streaming = false
        var startScheduled = false
        var closing = false
        var recoveryScheduled = false
        var needsClearHalt = false
        var resyncPending = true
        var nextIndex: UnitIndex?  // index the next frame must start at; nil = any
        var sinkRoom = 0
        var staging: UnsafeMutableRawBufferPointer
        var stageHead = 0
        var stageCount = 0
        var stageFirst: UnitIndex = 0
        var gaps: [Gap] = []
        var inFlightUnits = 0
        var inFlightTransfers = 0
        var eventTransferBusy = false
        var slotBusy: [Bool]
        var slotUnits: [Int]
        var counters = Counters()
        var lastError: DeviceError?
        var events: [DeviceEvent] = []
        var pendingArrival: HotplugEvent?
    }

    /// Opens the device with serial number `serial` and prepares (does not start) its stream.
    ///
    /// - Parameters:
    ///   - transfers: bulk IN transfers kept in flight at most (each one frame).
    ///   - stagingUnits: capacity of the staging ring, units (0 = 4 frames per transfer).
    ///   - onReady: called on the event thread when units are staged or the device comes or goes.
    /// - Throws: ``DeviceError`` when the device is not attached, cannot be opened, or its
    ///   GET_INFO reply is unusable.
    public init(
        serial: String, context: USBContext, transfers: Int = 4, stagingUnits: Int = 0,
        onReady: (@Sendable () -> Void)? = nil
    ) throws(DeviceError) {
        let device = try QKDDevice.open(serial: serial, in: context)
        let info = try device.info()
        guard (1...4096).contains(info.unitSize), (1...4096).contains(info.maxFrameUnits) else {
            throw .malformedReply(request: "GET_INFO", reason: "unit size \(info.unitSize), frame units \(info.maxFrameUnits)")
        }
        try? device.stopStream()
        self.context = context
        self.serial = serial
        self.link = info.link
        self.unitSize = info.unitSize
        self.maxFrameUnits = info.maxFrameUnits
        self.onReady = onReady
        let transferCount = max(1, min(transfers, 32))
        let staging = stagingUnits > 0 ? stagingUnits : info.maxFrameUnits * transferCount * 4
        self.stagingUnits = staging
        let ring = UnsafeMutableRawBufferPointer.allocate(byteCount: staging * info.unitSize, alignment: 16)
        ring.initializeMemory(as: UInt8.self, repeating: 0)
        var initial = State(
            staging: ring, slotBusy: Array(repeating: false, count: transferCount),
            slotUnits: Array(repeating: 0, count: transferCount))
        initial.device = device
        initial.attached = true
        initial.gaps.reserveCapacity(8)
        initial.events.reserveCapacity(64)
        state = Mutex(initial)
        let bufferSize = QKDUSB.frameHeaderSize + info.maxFrameUnits * info.unitSize
        tags = (0..<transferCount).map { TransferTag(slot: $0, bufferSize: bufferSize) }
        eventTag = TransferTag(slot: -1, bufferSize: QKDUSB.eventSize)
        for tag in tags { tag.owner = self }
        eventTag.owner = self
        hotplugToken = context.addHotplugListener { [weak self] event in self?.hotplug(event) }
        submitEventTransfer()
    }

    deinit {
        close()
        state.withLock { s in
            wipe(s.staging)
            s.staging.deallocate()
        }
    }

    /// Stops the stream, waits for in-flight transfers to finish and releases the device. The
    /// source delivers what is staged afterwards and then reports ``KeySourceError/deviceUnavailable``.
    /// Must not be called on the event thread.
    public func close() {
        let handles: [UnsafeMutablePointer<libusb_transfer>] = state.withLock { s in
            guard !s.closing else { return [] }
            s.closing = true
            return tags.indices.filter { s.slotBusy[$0] }.map { tags[$0].transfer }
                + (s.eventTransferBusy ? [eventTag.transfer] : [])
        }
        context.removeHotplugListener(hotplugToken)
        for transfer in handles { _ = libusb_cancel_transfer(transfer) }
        for _ in 0..<200 {
            let seen = wake.current
            let busy = state.withLock { $0.inFlightTransfers > 0 || $0.eventTransferBusy }
            if !busy { break }
            wake.wait(after: seen, milliseconds: 10)
        }
        let device = state.withLock { s -> QKDDevice? in
            defer {
                s.device = nil
                s.attached = false
                s.streaming = false
            }
            return s.attached ? s.device : nil
        }
        try? device?.stopStream()
    }

    // MARK: KeySource

    /// See ``KeySource/deliver(at:into:)``. `now` is not used: units are ready when staged.
    /// - Throws: ``KeySourceError/deviceUnavailable`` when nothing is staged and the device is
    ///   detached; ``KeySourceError/sink(_:)`` when the sink refuses.
    public func deliver<Sink: KeySink & ~Copyable>(at now: Nanoseconds, into sink: inout Sink)
        throws(KeySourceError) -> Int
    {
        var delivered = 0
        var failure: KeySourceError?
        var scheduleStart = false
        state.withLock { s in
            if s.nextIndex == nil, s.stageCount == 0, s.gaps.isEmpty, let expected = sink.nextExpectedIndex {
                s.nextIndex = expected
            }
            do throws(KeySourceError) { delivered = try moveStaged(&s, into: &sink) } catch { failure = error }
            s.sinkRoom = sink.freeUnits
            if s.attached, !s.streaming, !s.startScheduled, !s.closing, s.device != nil {
                s.startScheduled = true
                scheduleStart = true
            }
            if failure == nil, delivered == 0, !s.attached, s.stageCount == 0 {
                failure = .deviceUnavailable
            }
        }
        if scheduleStart { context.schedule { [weak self] in self?.startStreaming() } }
        submitTransfers()
        if let failure, delivered == 0 { throw failure }
        return delivered
    }

    /// See ``KeySource/nextReadyTime(after:)``: always `nil`; readiness comes from ``onReady``.
    public func nextReadyTime(after now: Nanoseconds) -> Nanoseconds? { nil }

    /// Blocks until units are staged or the device state changes, at most `milliseconds`.
    /// For tools and tests; an event loop uses ``onReady`` instead.
    /// - Returns: whether units are staged now.
    @discardableResult
    public func waitForUnits(milliseconds: Int) -> Bool {
        let seen = wake.current
        if state.withLock({ $0.stageCount > 0 || !$0.gaps.isEmpty }) { return true }
        wake.wait(after: seen, milliseconds: milliseconds)
        return state.withLock { $0.stageCount > 0 || !$0.gaps.isEmpty }
    }

    /// The stream's counters.
    public var counters: Counters { state.withLock { $0.counters } }
    /// The last device error (e.g. ``DeviceError/unplugged(serial:)``), kept after recovery.
    public var lastError: DeviceError? { state.withLock { $0.lastError } }
    /// Whether the device is attached and open.
    public var isAttached: Bool { state.withLock { $0.attached } }
    /// Whether the device is streaming.
    public var isStreaming: Bool { state.withLock { $0.streaming } }

    /// Takes the events received from the interrupt endpoint since the last call.
    public func takeEvents() -> [DeviceEvent] {
        state.withLock { s in
            defer { s.events.removeAll(keepingCapacity: true) }
            return s.events
        }
    }

    /// Runs `body` with the open device (e.g. to read its status), or returns `nil` if detached.
    public func withDevice<T>(_ body: (QKDDevice) throws(DeviceError) -> T) throws(DeviceError) -> T? {
        guard let device = state.withLock({ $0.attached ? $0.device : nil }) else { return nil }
        return try body(device)
    }

    // MARK: staging → sink

    private func moveStaged<Sink: KeySink & ~Copyable>(_ s: inout State, into sink: inout Sink) throws(KeySourceError) -> Int {
        var delivered = 0
        while true {
            if let gap = s.gaps.first, gap.units.lowerBound == s.stageFirst {
                try announce(gap.units, &s, &sink)
                s.gaps.removeFirst()
                s.stageFirst = gap.units.upperBound
                continue
            }
            guard s.stageCount > 0 else { break }
            if let expected = sink.nextExpectedIndex, expected != s.stageFirst {
                if expected < s.stageFirst {
                    try announce(expected..<s.stageFirst, &s, &sink)
                } else {  // the sink already holds some staged units: drop them
                    let skip = Int(min(expected - s.stageFirst, UInt64(s.stageCount)))
                    dropStaged(skip, &s)
                    continue
                }
            }
            let beforeGap = s.gaps.first.map { Int($0.units.lowerBound - s.stageFirst) } ?? s.stageCount
            let run = min(beforeGap, s.stageCount, stagingUnits - s.stageHead, sink.freeUnits)
            guard run > 0 else { break }
            let bytes = UnsafeMutableRawBufferPointer(
                rebasing: s.staging[(s.stageHead * unitSize)..<((s.stageHead + run) * unitSize)])
            do {
                try sink.accept(
                    link: link, firstIndex: s.stageFirst, unitCount: run, unitSize: unitSize,
                    bytes: UnsafeRawBufferPointer(bytes))
            } catch { throw .sink(error) }
            dropStaged(run, &s)
            s.counters.unitsDelivered += UInt64(run)
            delivered += run
        }
        return delivered
    }

    private func announce<Sink: KeySink & ~Copyable>(_ units: Range<UnitIndex>, _ s: inout State, _ sink: inout Sink)
        throws(KeySourceError)
    {
        guard !units.isEmpty else { return }
        do { try sink.discard(link: link, units: units) } catch { throw .sink(error) }
        s.counters.unitsDiscarded += UInt64(units.count)
    }

    private func dropStaged(_ count: Int, _ s: inout State) {
        var left = count
        while left > 0 {
            let run = min(left, stagingUnits - s.stageHead)
            CAKRPDeviceShims_wipe(s.staging.baseAddress! + s.stageHead * unitSize, run * unitSize)
            s.stageHead = (s.stageHead + run) % stagingUnits
            left -= run
        }
        s.stageCount -= count
        s.stageFirst += UInt64(count)
    }

    // MARK: transfers

    /// Submits bulk IN transfers for the room the sink and the staging ring have.
    private func submitTransfers() {
        var failed: USBError?
        state.withLock { s in
            guard s.attached, s.streaming, !s.closing, !s.recoveryScheduled, let device = s.device else { return }
            for slot in tags.indices where !s.slotBusy[slot] {
                let budget = min(stagingUnits, s.sinkRoom) - s.stageCount - s.inFlightUnits
                let units = min(budget, maxFrameUnits)
                guard units > 0 else { break }
                let tag = tags[slot]
                libusb_fill_bulk_transfer(
                    tag.transfer, device.handle, QKDUSB.keyEndpoint, tag.buffer,
                    Int32(QKDUSB.frameHeaderSize + units * unitSize), usbKeyTransferDone,
                    Unmanaged.passUnretained(tag).toOpaque(), 0)
                let result = libusb_submit_transfer(tag.transfer)
                guard result == 0 else {
                    failed = USBError(rawValue: result)
                    break
                }
                s.slotBusy[slot] = true
                s.slotUnits[slot] = units
                s.inFlightUnits += units
                s.inFlightTransfers += 1
            }
        }
        if let failed { deviceFailed(.usb(failed, operation: "libusb_submit_transfer")) }
    }

    private func submitEventTransfer() {
        state.withLock { s in
            guard s.attached, !s.closing, !s.eventTransferBusy, let device = s.device else { return }
            libusb_fill_interrupt_transfer(
                eventTag.transfer, device.handle, QKDUSB.eventEndpoint, eventTag.buffer, Int32(QKDUSB.eventSize),
                usbEventTransferDone, Unmanaged.passUnretained(eventTag).toOpaque(), 0)
            if libusb_submit_transfer(eventTag.transfer) == 0 { s.eventTransferBusy = true }
        }
    }

    /// A bulk IN transfer finished (event thread, inside libusb's callback).
    fileprivate func keyTransferDone(_ tag: TransferTag) {
        let transfer = tag.transfer.pointee
        let length = Int(max(0, transfer.actual_length))
        var staged = false
        var recover = false
        var lost = false
        state.withLock { s in
            s.slotBusy[tag.slot] = false
            s.inFlightUnits -= s.slotUnits[tag.slot]
            s.slotUnits[tag.slot] = 0
            s.inFlightTransfers -= 1
            switch transfer.status {
            case LIBUSB_TRANSFER_COMPLETED:
                let frame = UnsafeRawBufferPointer(start: tag.buffer, count: min(length, tag.bufferSize))
                if s.recoveryScheduled {
                    s.counters.droppedDuringResync += 1
                } else {
                    switch stage(frame, &s) {
                    case .staged: staged = true
                    case .rejected: recover = true
                    }
                }
            case LIBUSB_TRANSFER_STALL:
                s.counters.stalls += 1
                s.needsClearHalt = true
                recover = !s.closing
            case LIBUSB_TRANSFER_CANCELLED:
                break
            case LIBUSB_TRANSFER_TIMED_OUT:
                break
            default:  // NO_DEVICE, ERROR, OVERFLOW: the device went away or is unusable
                lost = !s.closing
            }
            if recover, !s.recoveryScheduled {
                s.recoveryScheduled = true
            } else {
                recover = false
            }
        }
        CAKRPDeviceShims_wipe(tag.buffer, tag.bufferSize)
        if lost {
            detach(.unplugged(serial: serial))
        } else if !isAttached {
            releaseIfIdle()
        } else if recover {
            context.schedule { [weak self] in self?.recoverStream() }
        } else {
            submitTransfers()
        }
        if staged {
            wake.signal()
            onReady?()
        }
        if state.withLock({ $0.closing }) { wake.signal() }
    }

    private enum StageResult { case staged, rejected }

    private func stage(_ frame: UnsafeRawBufferPointer, _ s: inout State) -> StageResult {
        let header: KeyFrameHeader
        do {
            header = try KeyFrameHeader.validate(frame, link: link, unitSize: unitSize)
        } catch {
            switch error {
            case .badCRC: s.counters.badCRC += 1
            case .wrongLink, .wrongUnitSize: s.counters.wrongLink += 1
            default: s.counters.malformed += 1
            }
            return .rejected
        }
        guard s.stageCount + header.unitCount <= stagingUnits else {
            s.counters.malformed += 1  // more units than the transfer asked for
            return .rejected
        }
        if let expected = s.nextIndex, header.firstIndex != expected {
            // A later start is a loss the device owns up to: after a resync, or flagged.
            let resumedLater =
                header.firstIndex > expected
                && (s.resyncPending && header.flags & KeyFrameHeader.firstAfterResync != 0
                    || header.flags & KeyFrameHeader.afterLoss != 0)
            guard resumedLater, s.gaps.count < 8 else {
                s.counters.nonContiguous += 1
                return .rejected
            }
            s.gaps.append(Gap(units: expected..<header.firstIndex))  // lost in the device
        }
        if s.stageCount == 0, s.gaps.isEmpty { s.stageFirst = header.firstIndex }
        if s.stageCount == 0, let gap = s.gaps.first { s.stageFirst = gap.units.lowerBound }
        var slot = (s.stageHead + s.stageCount) % stagingUnits
        var copied = 0
        while copied < header.unitCount {
            let run = min(header.unitCount - copied, stagingUnits - slot)
            (s.staging.baseAddress! + slot * unitSize).copyMemory(
                from: frame.baseAddress! + QKDUSB.frameHeaderSize + copied * unitSize, byteCount: run * unitSize)
            copied += run
            slot = (slot + run) % stagingUnits
        }
        s.stageCount += header.unitCount
        s.nextIndex = header.firstIndex + UInt64(header.unitCount)
        s.resyncPending = false
        s.counters.framesAccepted += 1
        s.counters.unitsAccepted += UInt64(header.unitCount)
        return .staged
    }

    /// The event transfer finished (event thread, inside libusb's callback).
    fileprivate func eventTransferDone(_ tag: TransferTag) {
        let transfer = tag.transfer.pointee
        var again = false
        var lost = false
        state.withLock { s in
            s.eventTransferBusy = false
            switch transfer.status {
            case LIBUSB_TRANSFER_COMPLETED:
                let bytes = UnsafeRawBufferPointer(start: tag.buffer, count: min(Int(max(0, transfer.actual_length)), tag.bufferSize))
                if let event = DeviceEvent(decoding: bytes) {
                    if s.events.count >= 64 {
                        s.events.removeFirst()
                        s.counters.eventsDropped += 1
                    }
                    s.events.append(event)
                }
                again = true
            case LIBUSB_TRANSFER_CANCELLED, LIBUSB_TRANSFER_STALL, LIBUSB_TRANSFER_TIMED_OUT:
                again = transfer.status != LIBUSB_TRANSFER_CANCELLED
            default:
                lost = !s.closing
            }
        }
        if lost { detach(.unplugged(serial: serial)) } else if !isAttached { releaseIfIdle() }
        if again { submitEventTransfer() }
        wake.signal()
    }

    // MARK: device state (event thread, outside callbacks)

    private func startStreaming() {
        let (device, resume) = state.withLock { s -> (QKDDevice?, UnitIndex?) in
            s.startScheduled = false
            guard s.attached, !s.streaming, !s.closing else { return (nil, nil) }
            return (s.device, s.nextIndex)
        }
        guard let device else { return }
        do {
            if let resume { try device.resync(from: resume) }
            try device.startStream()
        } catch {
            deviceFailed(error)
            return
        }
        state.withLock { s in
            s.streaming = true
            s.resyncPending = true
        }
        submitTransfers()
    }

    private func recoverStream() {
        let (device, resume, clearHalt) = state.withLock { s -> (QKDDevice?, UnitIndex?, Bool) in
            defer { s.needsClearHalt = false }
            return (s.attached && !s.closing ? s.device : nil, s.nextIndex, s.needsClearHalt)
        }
        if let device {
            // Wait for the transfers still in flight: their frames follow the rejected one.
            for _ in 0..<100 where state.withLock({ $0.inFlightTransfers > 0 }) {
                var timeout = timeval(tv_sec: 0, tv_usec: 10_000)
                _ = libusb_handle_events_timeout_completed(context.raw, &timeout, nil)
            }
            do {
                if clearHalt {
                    let status = libusb_clear_halt(device.handle, QKDUSB.keyEndpoint)
                    if status != 0 { throw DeviceError.usb(USBError(rawValue: status), operation: "libusb_clear_halt") }
                }
                if let resume { try device.resync(from: resume) }
            } catch let error as DeviceError {
                state.withLock { $0.recoveryScheduled = false }
                deviceFailed(error)
                return
            } catch {}
        }
        state.withLock { s in
            s.recoveryScheduled = false
            s.resyncPending = true
        }
        submitTransfers()
    }

    private func deviceFailed(_ error: DeviceError) {
        if case .unplugged = error {
            detach(error)
            return
        }
        if case .usb(let usb, _) = error, usb == .noDevice || usb == .io {
            detach(.unplugged(serial: serial))
            return
        }
        state.withLock { $0.lastError = error }
        wake.signal()
        onReady?()
    }

    private func detach(_ error: DeviceError) {
        let changed = state.withLock { s -> Bool in
            guard s.attached else { return false }
            s.attached = false
            s.streaming = false
            s.startScheduled = false
            s.lastError = error
            s.counters.unplugs += 1
            return true
        }
        releaseIfIdle()
        guard changed else { return }
        wake.signal()
        onReady?()
    }

    /// Once a detached device has no transfer in flight, closes its handle (on the event thread,
    /// outside callbacks) and handles an arrival that came in meanwhile.
    private func releaseIfIdle() {
        let retired = state.withLock { s -> QKDDevice? in
            guard !s.attached, s.inFlightTransfers == 0, !s.eventTransferBusy, let device = s.device else { return nil }
            s.device = nil
            return device
        }
        guard let retired else { return }
        context.schedule { [weak self] in
            withExtendedLifetime(retired) {}
            guard let self else { return }
            let arrival = self.state.withLock { s -> HotplugEvent? in
                defer { s.pendingArrival = nil }
                return s.pendingArrival
            }
            if let arrival { self.hotplug(arrival) }
        }
    }

    private func hotplug(_ event: HotplugEvent) {
        switch event.kind {
        case .left:
            let ours = state.withLock { s in
                s.attached && s.device.map { $0.bus == event.bus && $0.address == event.address } == true
            }
            if ours { detach(.unplugged(serial: serial)) }
        case .arrived:
            let wanted = state.withLock { s -> Bool in
                guard !s.attached, !s.closing else { return false }
                if s.device != nil {  // the old handle still has transfers in flight
                    s.pendingArrival = event
                    return false
                }
                return true
            }
            guard wanted, let device = try? QKDDevice(context: context, bus: event.bus, address: event.address),
                device.serial == serial
            else { return }
            guard let info = try? device.info() else { return }
            guard info.link == link, info.unitSize == unitSize else {
                state.withLock { $0.lastError = .streamMismatch(reason: "replugged device serves \(info.link), unit size \(info.unitSize)") }
                wake.signal()
                return
            }
            try? device.stopStream()
            state.withLock { s in
                s.device = device
                s.attached = true
                s.streaming = false
                s.resyncPending = true
                s.counters.reattachments += 1
            }
            submitEventTransfer()
            startStreaming()
            wake.signal()
            onReady?()
        }
    }
}

/// One preallocated libusb transfer and its buffer; the C callback's context.
final class TransferTag: @unchecked Sendable {
    let slot: Int
    let transfer: UnsafeMutablePointer<libusb_transfer>
    let buffer: UnsafeMutablePointer<UInt8>
    let bufferSize: Int
    unowned(unsafe) var owner: USBKeySource?

    init(slot: Int, bufferSize: Int) {
        self.slot = slot
        self.bufferSize = bufferSize
        transfer = libusb_alloc_transfer(0)
        buffer = .allocate(capacity: bufferSize)
        buffer.initialize(repeating: 0, count: bufferSize)
    }

    deinit {
        CAKRPDeviceShims_wipe(buffer, bufferSize)
        buffer.deallocate()
        libusb_free_transfer(transfer)
    }
}

/// Non-capturing trampolines: hand the completed transfer to its source.
private func usbKeyTransferDone(_ transfer: UnsafeMutablePointer<libusb_transfer>?) {
    guard let context = transfer?.pointee.user_data else { return }
    let tag = Unmanaged<TransferTag>.fromOpaque(context).takeUnretainedValue()
    tag.owner?.keyTransferDone(tag)
}

private func usbEventTransferDone(_ transfer: UnsafeMutablePointer<libusb_transfer>?) {
    guard let context = transfer?.pointee.user_data else { return }
    let tag = Unmanaged<TransferTag>.fromOpaque(context).takeUnretainedValue()
    tag.owner?.eventTransferDone(tag)
}
