import AKRPConfig
import AKRPDevice
import AKRPEngine
import AKRPKeySource

/// The key source of one link and the adapter that feeds it into the engine's pool. Confined to the
/// node's loop (a USB source stages units on its own thread and signals readiness; the loop moves them).
final class LinkFeed {
    let neighbour: NodeID
    /// How the operator configured it, for the dump: `simulated`, `usb SERIAL`, `trace PATH`.
    let description: String
    var source: any KeySource
    var sink: EnginePoolSink
    /// Earliest time worth polling again (nil: the source signals readiness itself).
    var nextPoll: Nanoseconds?
    /// The source said it has units staged (USB) since the last poll.
    var signalled = false
    /// Shortest interval between two polls of a source that produces continuously: batches deliveries
    /// into engine steps of a few milliseconds of key instead of one step per unit.
    let minimumInterval: Nanoseconds = 2_000_000
    var state = "starting"
    var lastError: String?
    var unitsDelivered: UInt64 = 0
    var errors: UInt64 = 0
    var exhausted = false
    // MARK: device health (LinkFeed+Health.swift)
    /// Units delivered over a recent window (every kind of source).
    var rateWindow = KeyRateWindow()
    /// QBER, alarms, state and event counts of a USB device.
    var health = DeviceHealth()
    /// Reads a USB device's status off the loop (nil for other sources).
    let statusPoller: DeviceStatusPoller?
    /// When the next status read is due, and when the next event check is due without a signal.
    var nextStatusRead: Nanoseconds = 0
    var nextEventCheck: Nanoseconds = 0

    init(neighbour: NodeID, description: String, source: any KeySource, sink: EnginePoolSink) {
        self.neighbour = neighbour
        self.description = description
        self.source = source
        self.sink = sink
        statusPoller = (source as? USBKeySource).map { DeviceStatusPoller(serial: $0.serial) }
    }

    /// The highest unit index the link's device can have produced by `now`, as far as the box can know:
    /// exact for a simulated device, the pool's tail otherwise (a device's buffer is not visible).
    func producedEstimate(now: Nanoseconds, tail: UnitIndex) -> UnitIndex {
        if let simulated = source as? SimulatedDevice { return max(tail, simulated.pair.producedUnits(at: now)) }
        return tail
    }

    /// The pool was moved forward by the shell (greeting skip): the next delivery continues there.
    func positionMoved() {
        nextPoll = 0
    }

    /// Releases the device (USB): waits for its transfers; never call on the device's event thread.
    func close() {
        statusPoller?.stop()  // no status read runs on a device being closed
        if let usb = source as? USBKeySource { usb.close() }
    }

    /// Moves every unit that is ready into the pool; returns how many.
    func poll(now: Nanoseconds) -> Int {
        guard !exhausted else { return 0 }
        signalled = false
        sink.now = now
        var delivered = 0
        do throws(KeySourceError) {
            delivered = try source.deliver(at: now, into: &sink)
            if state != "delivering" && (delivered > 0 || state == "starting") { state = "delivering" }
        } catch {
            delivered = 0
            errors += 1
            switch error {
            case .exhausted:
                exhausted = true
                state = "exhausted"
            case .deviceUnavailable:
                state = "device unavailable"
            case .deviceFailure(let reason):
                state = "device failure"
                lastError = reason
            case .sink(let e):
                state = "refused by pool"
                lastError = "\(e)"
            }
        }
        unitsDelivered += UInt64(delivered)
        let room = sink.freeUnits
        if exhausted {
            nextPoll = nil
        } else if let ready = source.nextReadyTime(after: now) {
            nextPoll = room == 0 ? now &+ 20_000_000 : max(ready, now &+ minimumInterval)
        } else {
            // Readiness is signalled (USB); poll now and then in case room was freed meanwhile.
            nextPoll = now &+ 100_000_000
        }
        return delivered
    }
}
