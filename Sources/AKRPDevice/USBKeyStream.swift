internal import AKRPEngine
internal import AKRPKeySource
internal import CLibUSB
import Synchronization

/// The state machine behind a ``USBKeySource``: transfers, staging ring, recovery, hotplug,
/// teardown. Internal, so that the public object can go away (and start closing) while this one
/// lives on until libusb has handed back every transfer.
///
/// Lifetime: every submitted transfer carries a retained reference to this object as its
/// `user_data`; its callback takes the reference back. Closing cancels what is in flight and
/// tears down (stop the stream, release the handle) only once the last callback has run —
/// however long that takes, never on a timeout — so a transfer is never freed while libusb may
/// still complete it. Closing never blocks: ``beginClose()`` may be called from any thread,
/// including the event thread inside a libusb callback; ``waitUntilClosed()`` blocks (off the
/// event thread) until the teardown is done.
///
/// Threads: the event thread runs transfer callbacks, hotplug handling, stream start, recovery
/// and teardown; the owner's thread calls ``deliver(into:)``, which only takes the mutex and
/// submits transfers (non-blocking libusb calls).
final class USBKeyStream: @unchecked Sendable {
    let link: LinkID
    let unitSize: Int
    let serial: String
    let onReady: (@Sendable () -> Void)?
    let context: USBContext
    let maxFrameUnits: Int
    let stagingUnits: Int
    let wake = WakeSignal()
    private let state: Mutex<State>
    private let keySlots: [USBTransfer]
    private let eventSlot: USBTransfer

    private struct Gap: Sendable {
        var units: Range<UnitIndex>
    }

    // Unchecked: the staging pointer is only touched under the mutex.
    private struct State: @unchecked Sendable {
        var device: QKDDevice?
        var attached = false
        var streaming = false
        var startScheduled = false
        /// A rejected frame or a stall: resynchronise once no key transfer is in flight.
        var recoveryPending = false
        var recoveryScheduled = false
        var needsClearHalt = false
        var resyncPending = true
        var closing = false
        var teardownScheduled = false
        var closed = false
        var hotplugToken: UInt64?
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
        var counters = USBKeySource.Counters()
        var lastError: DeviceError?
        var events: [DeviceEvent] = []
        var pendingArrival: HotplugEvent?

        var transfersInFlight: Int { inFlightTransfers + (eventTransferBusy ? 1 : 0) }

        mutating func noteFailure(_ error: DeviceError) {
            counters.failedCalls += 1
            lastError = error
        }
    }

    /// Prepares the stream of `device` (open, stopped, its GET_INFO checked by the caller).
    /// - Throws: ``DeviceError`` when libusb cannot allocate the transfers.
    init(
        device: QKDDevice, info: DeviceInfo, transfers: Int, stagingUnits: Int, onReady: (@Sendable () -> Void)?
    ) throws(DeviceError) {
        let transferCount = max(1, min(transfers, 32))
        let bufferSize = QKDUSB.frameHeaderSize + info.maxFrameUnits * info.unitSize
        var slots: [USBTransfer] = []
        for _ in 0..<transferCount { slots.append(try USBTransfer(bufferSize: bufferSize)) }
        keySlots = slots
        eventSlot = try USBTransfer(bufferSize: QKDUSB.eventSize)
        context = device.context
        serial = device.serial
        link = info.link
        unitSize = info.unitSize
        maxFrameUnits = info.maxFrameUnits
        self.onReady = onReady
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
    }

    /// Listens for hotplug events and starts reading device events.
    func start() {
        let token = context.addHotplugListener { [weak self] event in self?.hotplug(event) }
        let keep = state.withLock { s -> Bool in
            guard !s.closing else { return false }
            s.hotplugToken = token
            submitEventTransfer(&s)
            return true
        }
        if !keep { context.removeHotplugListener(token) }
    }

    deinit {
        // Reached only when no transfer is in flight: each one holds a reference to self.
        state.withLock { s in
            wipe(s.staging)
            s.staging.deallocate()
        }
    }

    // MARK: owner's side

    /// Moves staged units to `sink` and submits transfers for the room it has.
    func deliver<Sink: KeySink & ~Copyable>(into sink: inout Sink) throws(KeySourceError) -> Int {
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
            if failure == nil, delivered == 0, !s.attached || s.closing, s.stageCount == 0, s.gaps.isEmpty {
                failure = .deviceUnavailable
            }
        }
        if scheduleStart { context.schedule { [weak self] in self?.startStreaming() } }
        submitTransfers()
        if let failure, delivered == 0 { throw failure }
        return delivered
    }

    /// Blocks until units are staged or the device state changes, at most `milliseconds`.
    func waitForUnits(milliseconds: Int) -> Bool {
        let seen = wake.current
        if state.withLock({ $0.stageCount > 0 || !$0.gaps.isEmpty }) { return true }
        wake.wait(after: seen, milliseconds: milliseconds)
        return state.withLock { $0.stageCount > 0 || !$0.gaps.isEmpty }
    }

    var counters: USBKeySource.Counters { state.withLock { $0.counters } }
    var lastError: DeviceError? { state.withLock { $0.lastError } }
    var isAttached: Bool { state.withLock { $0.attached } }
    var isStreaming: Bool { state.withLock { $0.streaming } }
    var isClosed: Bool { state.withLock { $0.closed } }
    var transfersInFlight: Int { state.withLock { $0.transfersInFlight } }
    var stagedUnits: Int { state.withLock { $0.stageCount } }

    func takeEvents() -> [DeviceEvent] {
        state.withLock { s in
            defer { s.events.removeAll(keepingCapacity: true) }
            return s.events
        }
    }

    func withDevice<T>(_ body: (QKDDevice) throws(DeviceError) -> T) throws(DeviceError) -> T? {
        guard let device = state.withLock({ $0.attached && !$0.closing ? $0.device : nil }) else { return nil }
        return try body(device)
    }

    // MARK: closing

    /// Starts closing: no new transfer, in-flight ones cancelled, the hotplug listener removed.
    /// The teardown runs on the event thread once the last callback has run. Never blocks.
    func beginClose() {
        let (token, teardownNow) = state.withLock { s -> (UInt64?, Bool) in
            guard !s.closing else { return (nil, false) }
            s.closing = true
            cancelInFlight(&s, events: true)
            let token = s.hotplugToken
            s.hotplugToken = nil
            guard s.transfersInFlight == 0, !s.teardownScheduled else { return (token, false) }
            s.teardownScheduled = true
            return (token, true)
        }
        if let token { context.removeHotplugListener(token) }
        if teardownNow { scheduleTeardown() }
        wake.signal()
    }

    /// Blocks until the teardown has run. Not on the event thread (the teardown runs there).
    func waitUntilClosed() {
        while true {
            let seen = wake.current
            if state.withLock({ $0.closed }) { return }
            wake.wait(after: seen, milliseconds: 1_000)
        }
    }

    private func scheduleTeardown() {
        // The event thread runs while this stream's device handle is open; if it has finished,
        // no handle is open and the teardown needs no libusb call.
        if !context.schedule({ [self] in teardown() }) { teardown() }
    }

    /// Stops the stream and releases the device (event thread, outside callbacks, nothing in flight).
    private func teardown() {
        do {
            let (device, attached) = state.withLock { s -> (QKDDevice?, Bool) in
                defer {
                    s.device = nil
                    s.attached = false
                    s.streaming = false
                    s.pendingArrival = nil
                }
                return (s.device, s.attached)
            }
            if let device, attached {
                do throws(DeviceError) {
                    try device.stopStream()
                } catch {
                    if case .unplugged = error {} else { state.withLock { $0.noteFailure(error) } }
                }
            }
        }  // the last reference to the device goes here: interface released, handle closed
        state.withLock { $0.closed = true }
        wake.signal()
        onReady?()
    }

    /// Cancels every transfer in flight (under the mutex, so none can be resubmitted meanwhile).
    /// `libusb_cancel_transfer` may be called from any thread, inside callbacks too; the callbacks
    /// still run (with `CANCELLED`, or with the status the transfer completed with meanwhile).
    private func cancelInFlight(_ s: inout State, events: Bool) {
        for slot in keySlots.indices where s.slotBusy[slot] { cancel(keySlots[slot], &s) }
        if events, s.eventTransferBusy { cancel(eventSlot, &s) }
    }

    private func cancel(_ slot: USBTransfer, _ s: inout State) {
        let result = libusb_cancel_transfer(slot.transfer)
        // NOT_FOUND: already completing; NO_DEVICE: gone, libusb completes it with that status.
        if result != 0, result != USBError.notFound.rawValue, result != USBError.noDevice.rawValue {
            s.noteFailure(.usb(USBError(rawValue: result), operation: "libusb_cancel_transfer"))
        }
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
            wipe(UnsafeMutableRawBufferPointer(rebasing: s.staging[(s.stageHead * unitSize)..<((s.stageHead + run) * unitSize)]))
            s.stageHead = (s.stageHead + run) % stagingUnits
            left -= run
        }
        s.stageCount -= count
        s.stageFirst += UInt64(count)
    }

    // MARK: transfers

    /// Submits bulk IN transfers for the room the sink and the staging ring have.
    private func submitTransfers() {
        var failed: DeviceError?
        state.withLock { s in
            guard s.attached, s.streaming, !s.closing, !s.recoveryPending, let device = s.device else { return }
            for slot in keySlots.indices where !s.slotBusy[slot] {
                let budget = min(stagingUnits, s.sinkRoom) - s.stageCount - s.inFlightUnits
                let units = min(budget, maxFrameUnits)
                guard units > 0 else { break }
                let transfer = keySlots[slot].transfer
                // The retained reference travels with the transfer; its callback takes it back.
                let owner = Unmanaged.passRetained(self).toOpaque()
                libusb_fill_bulk_transfer(
                    transfer, device.handle, QKDUSB.keyEndpoint, keySlots[slot].buffer,
                    Int32(QKDUSB.frameHeaderSize + units * unitSize), usbKeyTransferDone, owner, 0)
                let result = libusb_submit_transfer(transfer)
                guard result == 0 else {
                    Unmanaged<USBKeyStream>.fromOpaque(owner).release()  // libusb will not call back
                    failed = .usb(USBError(rawValue: result), operation: "libusb_submit_transfer")
                    break
                }
                s.slotBusy[slot] = true
                s.slotUnits[slot] = units
                s.inFlightUnits += units
                s.inFlightTransfers += 1
            }
        }
        if let failed { deviceFailed(failed) }
    }

    /// Submits the interrupt IN transfer for device events (under the mutex).
    private func submitEventTransfer(_ s: inout State) {
        guard s.attached, !s.closing, !s.eventTransferBusy, let device = s.device else { return }
        let owner = Unmanaged.passRetained(self).toOpaque()
        libusb_fill_interrupt_transfer(
            eventSlot.transfer, device.handle, QKDUSB.eventEndpoint, eventSlot.buffer, Int32(QKDUSB.eventSize),
            usbEventTransferDone, owner, 0)
        let result = libusb_submit_transfer(eventSlot.transfer)
        guard result == 0 else {
            Unmanaged<USBKeyStream>.fromOpaque(owner).release()
            s.noteFailure(.usb(USBError(rawValue: result), operation: "libusb_submit_transfer (events)"))
            return
        }
        s.eventTransferBusy = true
    }

    /// A bulk IN transfer finished (event thread, inside libusb's callback).
    fileprivate func keyTransferDone(_ transfer: UnsafeMutablePointer<libusb_transfer>) {
        guard let slot = keySlots.firstIndex(where: { $0.transfer == transfer }) else { return }
        let status = transfer.pointee.status
        let length = Int(max(0, transfer.pointee.actual_length))
        var staged = false
        var lost = false
        state.withLock { s in
            defer {
                // Wiped before the slot can be submitted again.
                wipe(keySlots[slot].bytes)
                s.slotBusy[slot] = false
                s.inFlightUnits -= s.slotUnits[slot]
                s.slotUnits[slot] = 0
                s.inFlightTransfers -= 1
            }
            guard !s.closing else { return }
            switch status {
            case LIBUSB_TRANSFER_COMPLETED:
                let frame = UnsafeRawBufferPointer(
                    start: keySlots[slot].buffer, count: min(length, keySlots[slot].bufferSize))
                if s.recoveryPending {
                    s.counters.droppedDuringResync += 1
                } else if stage(frame, &s) {
                    staged = true
                } else {
                    beginRecovery(&s)
                }
            case LIBUSB_TRANSFER_STALL:
                s.counters.stalls += 1
                s.needsClearHalt = true
                beginRecovery(&s)
            case LIBUSB_TRANSFER_CANCELLED, LIBUSB_TRANSFER_TIMED_OUT:
                break
            default:  // NO_DEVICE, ERROR, OVERFLOW: the device went away or is unusable
                lost = true
            }
        }
        if lost { detach(.unplugged(serial: serial)) }
        progress()
        if staged {
            wake.signal()
            onReady?()
        }
    }

    /// After a rejected frame or a stall: no new transfer, the ones in flight cancelled (their
    /// frames follow the bad one); the stream is resynchronised once they are all back.
    private func beginRecovery(_ s: inout State) {
        guard !s.recoveryPending else { return }
        s.recoveryPending = true
        cancelInFlight(&s, events: false)
    }

    /// Checks and stages one frame; `false` when it is rejected (counted).
    private func stage(_ frame: UnsafeRawBufferPointer, _ s: inout State) -> Bool {
        let header: KeyFrameHeader
        do {
            header = try KeyFrameHeader.validate(frame, link: link, unitSize: unitSize)
        } catch {
            switch error {
            case .badCRC: s.counters.badCRC += 1
            case .wrongLink, .wrongUnitSize: s.counters.wrongLink += 1
            default: s.counters.malformed += 1
            }
            return false
        }
        guard s.stageCount + header.unitCount <= stagingUnits else {
            s.counters.malformed += 1  // more units than the transfer asked for
            return false
        }
        if let expected = s.nextIndex, header.firstIndex != expected {
            // A later start is a loss the device owns up to: after a resync, or flagged.
            let resumedLater =
                header.firstIndex > expected
                && (s.resyncPending && header.flags & KeyFrameHeader.firstAfterResync != 0
                    || header.flags & KeyFrameHeader.afterLoss != 0)
            guard resumedLater, s.gaps.count < 8 else {
                s.counters.nonContiguous += 1
                return false
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
        return true
    }

    /// The event transfer finished (event thread, inside libusb's callback).
    fileprivate func eventTransferDone(_ transfer: UnsafeMutablePointer<libusb_transfer>) {
        let status = transfer.pointee.status
        let length = Int(max(0, transfer.pointee.actual_length))
        var lost = false
        var received = false
        state.withLock { s in
            s.eventTransferBusy = false
            guard !s.closing else { return }
            switch status {
            case LIBUSB_TRANSFER_COMPLETED:
                let bytes = UnsafeRawBufferPointer(start: eventSlot.buffer, count: min(length, eventSlot.bufferSize))
                if let event = DeviceEvent(decoding: bytes) {
                    if s.events.count >= 64 {
                        s.events.removeFirst()
                        s.counters.eventsDropped += 1
                    }
                    s.events.append(event)
                    received = true
                }
                submitEventTransfer(&s)
            case LIBUSB_TRANSFER_CANCELLED:
                break  // detached or closing: the next attachment submits a new one
            case LIBUSB_TRANSFER_STALL, LIBUSB_TRANSFER_TIMED_OUT:
                submitEventTransfer(&s)
            default:
                lost = true
            }
        }
        if lost { detach(.unplugged(serial: serial)) }
        progress()
        wake.signal()
        if received { onReady?() }
    }

    /// What follows a finished transfer or a state change: the teardown once a closing stream is
    /// idle, the release of a detached device once idle, a recovery once no key transfer is in
    /// flight, or more transfers.
    private func progress() {
        enum Next { case nothing, teardown, release, recover, submit }
        let next = state.withLock { s -> Next in
            if s.closing {
                guard s.transfersInFlight == 0, !s.teardownScheduled else { return .nothing }
                s.teardownScheduled = true
                return .teardown
            }
            if !s.attached { return .release }
            if s.recoveryPending {
                guard s.inFlightTransfers == 0, !s.recoveryScheduled else { return .nothing }
                s.recoveryScheduled = true
                return .recover
            }
            return .submit
        }
        switch next {
        case .nothing: break
        case .teardown: scheduleTeardown()
        case .release: releaseIfIdle()
        case .recover: context.schedule { [weak self] in self?.recoverStream() }
        case .submit: submitTransfers()
        }
    }

    // MARK: device state (event thread, outside callbacks)

    private func startStreaming() {
        let (device, resume) = state.withLock { s -> (QKDDevice?, UnitIndex?) in
            s.startScheduled = false
            guard s.attached, !s.streaming, !s.closing else { return (nil, nil) }
            return (s.device, s.nextIndex)
        }
        guard let device else { return }
        do throws(DeviceError) {
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

    /// Clears a halt and resynchronises to the next expected unit, once no key transfer is in flight.
    private func recoverStream() {
        let job = state.withLock { s -> (device: QKDDevice, resume: UnitIndex?, clearHalt: Bool)? in
            s.recoveryScheduled = false
            guard s.recoveryPending, s.inFlightTransfers == 0, s.attached, !s.closing, let device = s.device else {
                return nil
            }
            defer { s.needsClearHalt = false }
            return (device, s.nextIndex, s.needsClearHalt)
        }
        guard let job else {
            progress()
            return
        }
        do throws(DeviceError) {
            if job.clearHalt {
                let status = libusb_clear_halt(job.device.handle, QKDUSB.keyEndpoint)
                if status != 0 { throw .usb(USBError(rawValue: status), operation: "libusb_clear_halt") }
            }
            if let resume = job.resume { try job.device.resync(from: resume) }
        } catch {
            state.withLock { $0.recoveryPending = false }
            deviceFailed(error)
            return
        }
        state.withLock { s in
            s.recoveryPending = false
            s.resyncPending = true
        }
        submitTransfers()
    }

    /// A libusb call failed on the event thread or in ``deliver(into:)``: an unplug detaches,
    /// anything else is counted and kept as ``USBKeySource/lastError``.
    private func deviceFailed(_ error: DeviceError) {
        if case .unplugged = error {
            detach(error)
            return
        }
        if case .usb(let usb, _) = error, usb == .noDevice || usb == .io {
            detach(.unplugged(serial: serial))
            return
        }
        state.withLock { $0.noteFailure(error) }
        wake.signal()
        onReady?()
    }

    private func detach(_ error: DeviceError) {
        let changed = state.withLock { s -> Bool in
            guard s.attached else { return false }
            s.attached = false
            s.streaming = false
            s.startScheduled = false
            s.recoveryPending = false
            s.needsClearHalt = false
            s.lastError = error
            s.counters.unplugs += 1
            cancelInFlight(&s, events: true)
            return true
        }
        releaseIfIdle()
        guard changed else { return }
        wake.signal()
        onReady?()
    }

    /// Once a detached device has no transfer in flight, closes its handle (on the event thread,
    /// outside callbacks) and handles an arrival that came in meanwhile. A closing stream leaves
    /// this to its teardown.
    private func releaseIfIdle() {
        let retired = state.withLock { s -> QKDDevice? in
            guard !s.closing, !s.attached, s.transfersInFlight == 0, let device = s.device else { return nil }
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

    /// A hotplug event (event thread, outside callbacks).
    private func hotplug(_ event: HotplugEvent) {
        switch event.kind {
        case .left:
            let ours = state.withLock { s in
                s.attached && s.device.map { $0.bus == event.bus && $0.address == event.address } == true
            }
            if ours { detach(.unplugged(serial: serial)) }
        case .arrived:
            reattach(event)
        }
    }

    /// A QKD device arrived: if it is ours (same serial), open it and resume the stream. Every
    /// failure on the way is counted (``USBKeySource/Counters/reattachFailures``) and kept as the
    /// last error; the source stays detached until the device arrives again.
    private func reattach(_ event: HotplugEvent) {
        let wanted = state.withLock { s -> Bool in
            guard !s.attached, !s.closing else { return false }
            if s.device != nil {  // the old handle still has transfers in flight
                s.pendingArrival = event
                return false
            }
            return true
        }
        guard wanted else { return }
        // Which device is it? udev tells without opening it: opening another source's device
        // would disturb that source.
        let arrived: AttachedDevice?
        do throws(DeviceError) {
            arrived = try DeviceDiscovery.attachedDevices().first { $0.bus == event.bus && $0.address == event.address }
        } catch {
            reattachFailed(error)
            return
        }
        guard let arrived, arrived.serial == serial else { return }  // not ours, or already gone
        let device: QKDDevice
        do throws(DeviceError) {
            device = try QKDDevice(context: context, bus: event.bus, address: event.address, serial: serial)
            let info = try device.info()
            guard info.link == link, info.unitSize == unitSize else {
                throw .streamMismatch(reason: "replugged device serves \(info.link), unit size \(info.unitSize)")
            }
            try device.stopStream()
        } catch {
            reattachFailed(error)
            return
        }
        let installed = state.withLock { s -> Bool in
            guard !s.attached, !s.closing, s.device == nil else { return false }
            s.device = device
            s.attached = true
            s.streaming = false
            s.resyncPending = true
            s.counters.reattachments += 1
            submitEventTransfer(&s)
            return true
        }
        guard installed else { return }  // closed meanwhile: `device` is released here
        startStreaming()
        wake.signal()
        onReady?()
    }

    private func reattachFailed(_ error: DeviceError) {
        state.withLock { s in
            s.counters.reattachFailures += 1
            s.lastError = error
        }
        wake.signal()
        onReady?()
    }
}

/// Non-capturing trampolines: take back the reference the submission passed, then hand the
/// completed transfer to its stream. The stream may be released right after (last reference):
/// libusb allows freeing a transfer from its own callback.
private func usbKeyTransferDone(_ transfer: UnsafeMutablePointer<libusb_transfer>?) {
    guard let transfer, let owner = transfer.pointee.user_data else { return }
    Unmanaged<USBKeyStream>.fromOpaque(owner).takeRetainedValue().keyTransferDone(transfer)
}

private func usbEventTransferDone(_ transfer: UnsafeMutablePointer<libusb_transfer>?) {
    guard let transfer, let owner = transfer.pointee.user_data else { return }
    Unmanaged<USBKeyStream>.fromOpaque(owner).takeRetainedValue().eventTransferDone(transfer)
}
