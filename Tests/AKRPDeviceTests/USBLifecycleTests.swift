import AKRPDevice
import AKRPEngine
import AKRPKeySource
import Foundation
import Testing

/// Closing, unplugging, replugging and re-opening against emulated devices: what a long-running
/// daemon does to a ``USBKeySource`` and its ``USBContext``. Part of ``DeviceTests`` (serialized,
/// under the emulator). Every wait is for an event or a state, with a generous deadline.
extension DeviceTests {
    /// Waits until libusb (not only udev) knows the device again after a replug: until it opens.
    private func waitUntilOpenable(_ serial: String, _ context: USBContext) -> Bool {
        eventually {
            do { return try QKDDevice.open(serial: serial, in: context).serial == serial } catch { return false }
        }
    }

    /// Waits until the source has key transfers outstanding (after a first delivery starts it).
    private func startStreaming(_ source: USBKeySource, _ sink: inout RingKeySink) throws -> Bool {
        _ = try? source.deliver(at: 0, into: &sink)  // schedules STREAM_START, then transfers
        return try eventually {
            do { _ = try source.deliver(at: 0, into: &sink) } catch KeySourceError.deviceUnavailable {}
            sink.drop(upTo: sink.count)
            return source.isStreaming && source.transfersInFlight > 1
        }
    }

    @Test func closeWithTransfersInFlightAgainAndAgain() throws {
        let link = LinkID(NodeID(201), NodeID(202))
        let (a, _) = try Emulator.addLink(201, 202, seed: 21)
        defer { _ = try? Emulator.send("remove-link 201 202") }
        let context = try USBContext()
        defer { context.shutdown() }
        for round in 0..<40 {
            // Half the rounds with the link down: transfers stay pending until cancelled. The
            // other half streaming: completions race the cancellation.
            let down = round % 2 == 0
            try Emulator.send("link \(a) \(down ? "down" : "up")")
            let source = try USBKeySource(serial: a, context: context, transfers: 8)
            var sink = RingKeySink(link: link, unitSize: 32, capacity: 65_536)
            #expect(try startStreaming(source, &sink), "round \(round): transfers outstanding")
            if round % 4 == 3 {
                // Releasing the source without close() starts the same teardown in the background.
                let closed = WeakSource(source)
                _ = consume source
                #expect(eventually { closed.isGone && context.openDevices == 0 }, "round \(round)")
            } else {
                source.close()
                #expect(source.isClosed && source.transfersInFlight == 0 && !source.isAttached)
                #expect(context.openDevices == 0, "round \(round): the handle is closed once close() returns")
                #expect(throws: KeySourceError.deviceUnavailable) {
                    var target = sink
                    _ = try source.deliver(at: 0, into: &target)
                }
                source.close()  // a second close does nothing more
            }
        }
        try Emulator.send("link \(a) up")
        // The device is intact: a new source streams the link's units.
        let source = try USBKeySource(serial: a, context: context)
        defer { source.close() }
        let sink = RingKeySink(link: link, unitSize: 32, capacity: 4096)
        let stream = try collect(2_000, from: source, sink: sink)
        let start = try #require(stream.first)
        #expect(stream.bytes == expectedStream(seed: 21, link: link, first: start, units: 2_000))
    }

    @Test func closeOnTheEventThreadDoesNotWaitAndCompletes() throws {
        let link = LinkID(NodeID(211), NodeID(212))
        let (a, _) = try Emulator.addLink(211, 212, seed: 4)
        defer { _ = try? Emulator.send("remove-link 211 212") }
        let context = try USBContext()
        defer { context.shutdown() }
        let holder = SourceHolder()
        let source = try USBKeySource(serial: a, context: context) { holder.closeOnce() }
        holder.source = source  // the holder lets go of it when it closes it
        var sink = RingKeySink(link: link, unitSize: 32, capacity: 65_536)
        _ = try? source.deliver(at: 0, into: &sink)
        // The first onReady (units staged, on the event thread) closes the source there.
        #expect(eventually { source.isClosed })
        #expect(holder.closeReturned, "close() on the event thread returned without waiting for itself")
        #expect(source.transfersInFlight == 0 && context.openDevices == 0)
    }

    @Test func closeRightAfterUnplug() throws {
        let link = LinkID(NodeID(221), NodeID(222))
        let (a, _) = try Emulator.addLink(221, 222, seed: 8)
        defer { _ = try? Emulator.send("remove-link 221 222") }
        let context = try USBContext()
        defer { context.shutdown() }
        for round in 0..<8 {
            #expect(waitUntilOpenable(a, context), "round \(round): the device is back")
            let source = try USBKeySource(serial: a, context: context)
            var sink = RingKeySink(link: link, unitSize: 32, capacity: 65_536)
            #expect(try startStreaming(source, &sink), "round \(round)")
            try Emulator.send("unplug \(a)")
            source.close()
            #expect(source.isClosed && source.transfersInFlight == 0, "round \(round)")
            #expect(context.openDevices == 0, "round \(round)")
            try Emulator.send("replug \(a)")
        }
    }

    @Test func replugWhileClosing() throws {
        let link = LinkID(NodeID(231), NodeID(232))
        let (a, _) = try Emulator.addLink(231, 232, seed: 12)
        defer { _ = try? Emulator.send("remove-link 231 232") }
        let context = try USBContext()
        defer { context.shutdown() }
        for round in 0..<8 {
            #expect(waitUntilOpenable(a, context), "round \(round): the device is back")
            let source = try USBKeySource(serial: a, context: context)
            var sink = RingKeySink(link: link, unitSize: 32, capacity: 65_536)
            #expect(try startStreaming(source, &sink), "round \(round)")
            try Emulator.send("unplug \(a)")
            #expect(eventually { !source.isAttached }, "round \(round): unplug seen")
            // Close on another thread while the device comes back: the arrival races the teardown.
            let closed = DispatchSemaphore(value: 0)
            Thread { source.close(); closed.signal() }.start()
            try Emulator.send("replug \(a)")
            #expect(closed.wait(timeout: .now() + 60) == .success, "round \(round): close returned")
            #expect(source.isClosed && !source.isAttached && source.transfersInFlight == 0)
            // A handle the arrival may have opened is never kept by a closed source.
            #expect(eventually { context.openDevices == 0 }, "round \(round)")
        }
        // The replugged device can be taken over by a new source.
        #expect(waitUntilOpenable(a, context))
        let source = try USBKeySource(serial: a, context: context)
        defer { source.close() }
        let sink = RingKeySink(link: link, unitSize: 32, capacity: 4096)
        let stream = try collect(1_000, from: source, sink: sink)
        #expect(stream.bytes == expectedStream(seed: 12, link: link, first: try #require(stream.first), units: 1_000))
    }

    @Test func aFailedReopenAfterReplugIsReported() throws {
        let link = LinkID(NodeID(241), NodeID(242))
        let (a, _) = try Emulator.addLink(241, 242, seed: 17)
        defer { _ = try? Emulator.send("remove-link 241 242") }
        let context = try USBContext()
        defer { context.shutdown() }
        let source = try USBKeySource(serial: a, context: context)
        defer { source.close() }
        let sink = RingKeySink(link: link, unitSize: 32, capacity: 4096)
        _ = try collect(1_000, from: source, sink: sink)
        try Emulator.send("unplug \(a)")
        #expect(eventually { !source.isAttached })
        try Emulator.send("fault \(a) fail-claim")
        try Emulator.send("replug \(a)")
        #expect(eventually { source.counters.reattachFailures == 1 }, "the failed re-open is counted")
        #expect(source.lastError == .usb(.busy, operation: "libusb_claim_interface"))
        #expect(!source.isAttached && source.counters.reattachments == 0)
        // Units staged before the unplug are still delivered; then the source says it has no device.
        let unavailable = eventually {
            var target = sink
            do throws(KeySourceError) {
                _ = try source.deliver(at: 0, into: &target)
            } catch {
                return error == .deviceUnavailable
            }
            sink.drop(upTo: sink.count)
            return false
        }
        #expect(unavailable)
        // The next arrival of the device is taken over, and the stream goes on.
        try Emulator.send("unplug \(a)")
        try Emulator.send("replug \(a)")
        #expect(eventually { source.isAttached && source.counters.reattachments == 1 })
        let rest = try collect(1_000, from: source, sink: sink)
        #expect(rest.bytes == expectedStream(seed: 17, link: link, first: try #require(rest.first), units: 1_000))
        #expect(source.counters.reattachFailures == 1)
    }

    @Test func theEventThreadStopsWithoutAnExplicitShutdown() throws {
        let link = LinkID(NodeID(251), NodeID(252))
        let (a, _) = try Emulator.addLink(251, 252, seed: 2)
        defer { _ = try? Emulator.send("remove-link 251 252") }
        // Threads of earlier tests may still be finishing: the count may only go down meanwhile.
        let before = USBContext.runningEventThreads
        do {
            let context = try USBContext()
            #expect(context.isRunning)
            let source = try USBKeySource(serial: a, context: context)
            let sink = RingKeySink(link: link, unitSize: 32, capacity: 4096)
            _ = try collect(500, from: source, sink: sink)
            // Neither close() nor shutdown(): both are released here, transfers in flight.
        }
        #expect(eventually { USBContext.runningEventThreads <= before })
        // The last reference may even go away on the event thread itself (inside a listener).
        let box = ContextBox(try USBContext())
        _ = try #require(box.context).addHotplugListener { _ in box.release() }
        #expect(USBContext.runningEventThreads <= before + 1)
        _ = try Emulator.addLink(253, 254)
        defer { _ = try? Emulator.send("remove-link 253 254") }
        #expect(eventually { box.context == nil && USBContext.runningEventThreads <= before })
    }

    @Test func shutdownWithAnOpenDeviceWaitsForTheDevice() throws {
        let (a, _) = try Emulator.addLink(261, 262)
        defer { _ = try? Emulator.send("remove-link 261 262") }
        let context = try USBContext()
        var device: QKDDevice? = try QKDDevice.open(serial: a, in: context)
        context.shutdown()  // returns at once: a handle is open, the thread must go on
        #expect(context.isRunning && context.openDevices == 1)
        #expect(try device?.info().serial == a, "the open device still works")
        #expect(throws: DeviceError.self) { try QKDDevice.open(serial: a, in: context) }
        device = nil
        #expect(eventually { !context.isRunning })
    }
}

/// Tells whether a source was released (its teardown then runs in the background).
private final class WeakSource: @unchecked Sendable {
    weak var source: USBKeySource?
    init(_ source: USBKeySource) { self.source = source }
    var isGone: Bool { source == nil }
}

/// Closes its source from the first `onReady` call (on the USB event thread).
private final class SourceHolder: @unchecked Sendable {
    private let lock = NSLock()
    private var held: USBKeySource?
    private var returned = false

    var source: USBKeySource? {
        get { lock.withLock { held } }
        set { lock.withLock { held = newValue } }
    }
    var closeReturned: Bool { lock.withLock { returned } }

    func closeOnce() {
        // Taken once: later calls find nothing to close.
        let taken = lock.withLock { () -> USBKeySource? in
            defer { held = nil }
            return held
        }
        guard let taken else { return }
        taken.close()  // on the event thread: starts closing, returns without waiting
        lock.withLock { returned = true }
    }
}

/// Holds the only reference to a context until a listener drops it on the event thread.
private final class ContextBox: @unchecked Sendable {
    private let lock = NSLock()
    private var held: USBContext?
    init(_ context: USBContext) { held = context }
    var context: USBContext? { lock.withLock { held } }
    func release() {
        let last = lock.withLock { () -> USBContext? in
            defer { held = nil }
            return held
        }
        _ = last  // released here, on the event thread
    }
}
