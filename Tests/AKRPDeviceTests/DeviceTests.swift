import AKRPDevice
import AKRPEngine
import AKRPKeySource
import Foundation
import Testing

/// Device tests against emulated QKD devices (Hardware/emulator). They run only under the
/// emulator (`tools/test-devices`); a plain `swift test` skips them: no emulator, no devices.
@Suite(
    .serialized,
    .enabled(if: underEmulator, "needs the USB emulator: run tools/test-devices (umockdev) to include the device tests"))
struct DeviceTests {
    @Test func enumeratesEmulatedDevices() throws {
        let (a, b) = try Emulator.addLink(101, 102)
        defer { _ = try? Emulator.send("remove-link 101 102") }
        let devices = try DeviceDiscovery.attachedDevices()
        let serials = devices.map(\.serial)
        #expect(serials.contains(a) && serials.contains(b))
        let found = try #require(devices.first { $0.serial == a })
        #expect(found.vendorID == 0x1209 && found.productID == 0x0001 && found.bus == 1)
    }

    @Test func readsInfoAndStatus() throws {
        let (a, b) = try Emulator.addLink(111, 112, bitsPerSecond: 8_000_000)
        defer { _ = try? Emulator.send("remove-link 111 112") }
        let context = try USBContext()
        defer { context.shutdown() }
        do {
            let deviceA = try QKDDevice.open(serial: a, in: context)
            let info = try deviceA.info()
            #expect(info.serial == a)
            #expect(info.link == LinkID(NodeID(111), NodeID(112)))
            #expect(info.localNode == NodeID(111) && info.peer == NodeID(112))
            #expect(info.unitSize == 32 && info.protocolVersion == 1)
            let status = try deviceA.status()
            #expect(status.state == .idle)
            #expect(status.keyRate == 8_000_000)
            let infoB = try QKDDevice.open(serial: b, in: context).info()
            #expect(infoB.localNode == NodeID(112) && infoB.link == info.link)
        }
        #expect(throws: DeviceError.notFound(serial: "NOPE")) { try QKDDevice.open(serial: "NOPE", in: context) }
    }

    @Test func bothEndsStreamTheSameHundredThousandUnits() throws {
        let link = LinkID(NodeID(121), NodeID(122))
        let (a, b) = try Emulator.addLink(121, 122, bitsPerSecond: 80_000_000, seed: 77)
        defer { _ = try? Emulator.send("remove-link 121 122") }
        let context = try USBContext()
        defer { context.shutdown() }
        let units = 100_000
        let sourceA = try USBKeySource(serial: a, context: context)
        let sourceB = try USBKeySource(serial: b, context: context)
        defer {
            sourceA.close()
            sourceB.close()
        }
        let sinkA = RingKeySink(link: link, unitSize: 32, capacity: 16_384)
        let sinkB = RingKeySink(link: link, unitSize: 32, capacity: 16_384)
        let streamA = try collect(units, from: sourceA, sink: sinkA)
        let streamB = try collect(units, from: sourceB, sink: sinkB)
        #expect(streamA.bytes.count == units * 32)
        #expect(streamA.first == 0 && streamB.first == 0)
        let identical = streamA.bytes == streamB.bytes
        #expect(identical, "both ends of the link delivered the same \(units) units")
        let asSeeded = streamA.bytes == expectedStream(seed: 77, link: link, first: 0, units: units)
        #expect(asSeeded, "the stream is the link's seeded stream")
        #expect(sourceA.counters.badCRC == 0 && sourceA.counters.nonContiguous == 0)
    }

    @Test func hotplugAddAndRemoveWhileStreaming() throws {
        let link = LinkID(NodeID(131), NodeID(132))
        let (a, _) = try Emulator.addLink(131, 132, seed: 5)
        defer { _ = try? Emulator.send("remove-link 131 132") }
        let context = try USBContext()
        defer { context.shutdown() }
        let seen = HotplugLog()
        let token = context.addHotplugListener { seen.append($0) }
        defer { context.removeHotplugListener(token) }
        let source = try USBKeySource(serial: a, context: context)
        defer { source.close() }
        let sink = RingKeySink(link: link, unitSize: 32, capacity: 4096)
        let before = try collect(5_000, from: source, sink: sink)
        _ = try Emulator.addLink(133, 134)
        #expect(eventually { seen.arrivals >= 2 })
        let during = try collect(5_000, from: source, sink: sink)
        try Emulator.send("remove-link 133 134")
        #expect(eventually { seen.departures >= 2 })
        let after = try collect(5_000, from: source, sink: sink)
        #expect(try eventually { try DeviceDiscovery.attachedDevices().allSatisfy { !$0.serial.hasPrefix("EMU01330134") } })
        #expect(source.counters.unplugs == 0)
        let intact = before.bytes + during.bytes + after.bytes == expectedStream(seed: 5, link: link, first: 0, units: 15_000)
        #expect(intact, "the stream went on unchanged while other devices came and went")
    }

    @Test func unplugMidTransferGivesTypedErrorAndRecoversOnReplug() throws {
        let link = LinkID(NodeID(141), NodeID(142))
        let (a, _) = try Emulator.addLink(141, 142, seed: 9)
        defer { _ = try? Emulator.send("remove-link 141 142") }
        let context = try USBContext()
        defer { context.shutdown() }
        let source = try USBKeySource(serial: a, context: context)
        defer { source.close() }
        let sink = RingKeySink(link: link, unitSize: 32, capacity: 4096)
        let first = try collect(3_000, from: source, sink: sink)
        try Emulator.send("fault \(a) unplug-mid-transfer")
        var errors: [KeySourceError] = []
        // Streams until the source has re-opened the replugged device (the event), however long the
        // unplug, the replug and the re-open take on this machine.
        _ = try collect(
            1_000_000, from: source, sink: sink, until: { source.counters.reattachments >= 1 }
        ) { error in
            errors.append(error)
            if errors.count == 1 { try Emulator.send("replug \(a)") }
            if errors.count > 10_000 { throw error }
        }.bytes.count
        #expect(errors.first == .deviceUnavailable)
        #expect(source.lastError == .unplugged(serial: a))
        #expect(source.counters.unplugs == 1 && source.counters.reattachments == 1)
        // The ring sink only accepts contiguous units: what it got after the replug continues
        // the stream, or follows a discard notice for units the device lost.
        let next = try #require(sink.nextExpectedIndex)
        #expect(next >= 3_000)
        let rest = try collect(2_000, from: source, sink: sink)
        let start = try #require(rest.first)
        let resumed = rest.bytes == expectedStream(seed: 9, link: link, first: start, units: 2_000)
        #expect(resumed, "units after the replug are the link's units at their indices")
        let beforeUnplug = first.bytes == expectedStream(seed: 9, link: link, first: 0, units: 3_000)
        #expect(beforeUnplug)
    }

    @Test func corruptedFrameIsRejectedAndTheStreamStaysIntact() throws {
        let link = LinkID(NodeID(151), NodeID(152))
        let (a, _) = try Emulator.addLink(151, 152, seed: 3)
        defer { _ = try? Emulator.send("remove-link 151 152") }
        let context = try USBContext()
        defer { context.shutdown() }
        let source = try USBKeySource(serial: a, context: context)
        defer { source.close() }
        let sink = RingKeySink(link: link, unitSize: 32, capacity: 4096)
        _ = try collect(2_000, from: source, sink: sink)
        try Emulator.send("fault \(a) corrupt")
        _ = try collect(4_000, from: source, sink: sink)
        try Emulator.send("fault \(a) stall")
        let tail = try collect(4_000, from: source, sink: sink)
        #expect(source.counters.badCRC == 1)
        #expect(source.counters.stalls == 1)
        #expect(sink.discardedUnits == 0)
        let intact = tail.bytes == expectedStream(seed: 3, link: link, first: tail.first ?? 0, units: 4_000)
        #expect(intact, "rejected frames were fetched again; the stream has no hole")
        #expect(tail.first == 6_000)
    }

    @Test func reportsLinkEvents() throws {
        let (a, _) = try Emulator.addLink(161, 162)
        defer { _ = try? Emulator.send("remove-link 161 162") }
        let context = try USBContext()
        defer { context.shutdown() }
        let source = try USBKeySource(serial: a, context: context)
        defer { source.close() }
        try Emulator.send("link \(a) down")
        try Emulator.send("qber \(a) 90000")
        var events: [DeviceEvent] = []
        #expect(eventually { events += source.takeEvents(); return events.count >= 2 })
        #expect(events.map(\.kind) == [.linkDown, .qberAlarm])
        #expect(events.last?.qberPPM == 90_000)
        let status = try source.withDevice { (device: QKDDevice) throws(DeviceError) in try device.status() }
        #expect(status?.state == .linkDown)
    }

    @Test func flashWritesAndReadsBack() throws {
        let (a, _) = try Emulator.addLink(171, 172)
        defer { _ = try? Emulator.send("remove-link 171 172") }
        let context = try USBContext()
        defer { context.shutdown() }
        let device = try QKDDevice.open(serial: a, in: context)
        let before = try device.readConfiguration()
        #expect(before.link == LinkID(NodeID(171), NodeID(172)) && before.localNode == NodeID(171))
        var wanted = before
        wanted.label = "flashed by the device tests"
        wanted.frameUnits = 128
        wanted.qberAlarmPPM = 61_000
        let report = try device.flash(wanted)
        #expect(report.generation == report.previousGeneration + 1)
        #expect(report.chunks == 3)
        #expect(try device.readConfiguration() == wanted)
        #expect(try Emulator.send("config-generation \(a)") == "\(report.generation)")
    }

    @Test func interruptedFlashKeepsThePreviousConfiguration() throws {
        let (a, _) = try Emulator.addLink(181, 182)
        defer { _ = try? Emulator.send("remove-link 181 182") }
        let context = try USBContext()
        defer { context.shutdown() }
        let (before, generation): (LinkConfiguration, UInt32) = try {
            let device = try QKDDevice.open(serial: a, in: context)
            return (try device.readConfiguration(), try device.configurationSlots().generation)
        }()
        var wanted = before
        wanted.label = "never committed"
        try Emulator.send("fault \(a) interrupt-config-write 1")
        do {
            let device = try QKDDevice.open(serial: a, in: context)
            #expect(throws: DeviceError.self) { try device.flash(wanted) }
        }
        #expect(eventually { (try? DeviceDiscovery.attachedDevices().contains { $0.serial == a }) == false })
        try Emulator.send("replug \(a)")
        #expect(eventually { (try? DeviceDiscovery.attachedDevices().contains { $0.serial == a }) == true })
        let device = try QKDDevice.open(serial: a, in: context)
        #expect(try device.readConfiguration() == before)
        #expect(try device.configurationSlots().generation == generation)
    }
}

final class HotplugLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [HotplugEvent] = []
    func append(_ event: HotplugEvent) { lock.withLock { events.append(event) } }
    var arrivals: Int { lock.withLock { events.filter { $0.kind == .arrived }.count } }
    var departures: Int { lock.withLock { events.filter { $0.kind == .left }.count } }
}
