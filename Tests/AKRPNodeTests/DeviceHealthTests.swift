import AKRPDevice
import Testing

@testable import AKRPNode

@Suite("Device health: key rate window and device events")
struct DeviceHealthTests {
    @Test("the key rate is the slope over the window, in bit/s")
    func keyRate() {
        var w = KeyRateWindow()
        #expect(w.bitsPerSecond(unitSize: 32) == 0)
        w.sample(now: 1_000_000_000, delivered: 0)
        #expect(w.bitsPerSecond(unitSize: 32) == 0, "one sample gives no rate")
        w.sample(now: 1_100_000_000, delivered: 999)  // closer than the spacing: ignored
        w.sample(now: 2_000_000_000, delivered: 1_000)
        #expect(w.bitsPerSecond(unitSize: 32) == 256_000)  // 1,000 units × 256 bits in 1 s
    }

    @Test("the window forgets samples older than its span")
    func window() {
        var w = KeyRateWindow()
        var units: UInt64 = 0
        // 100 units per 0.5 s for 20 s, then nothing for 20 s: the rate falls to 0.
        for i in 0..<40 {
            units += 100
            w.sample(now: UInt64(i) * KeyRateWindow.spacing, delivered: units)
        }
        #expect(w.bitsPerSecond(unitSize: 1) == 1_600)  // 200 units/s × 8 bits
        for i in 40..<80 { w.sample(now: UInt64(i) * KeyRateWindow.spacing, delivered: units) }
        #expect(w.bitsPerSecond(unitSize: 1) == 0)
    }

    @Test("QBER alarm raised and cleared by events; counts kept")
    func qberEvents() {
        var h = DeviceHealth()
        h.apply(.qberAlarm, qberPPM: 90_000)
        #expect(h.alarms & DeviceStatus.qberAlarm != 0 && h.qberPPM == 90_000)
        h.apply(.qberCleared, qberPPM: 12_000)
        #expect(h.alarms & DeviceStatus.qberAlarm == 0 && h.qberPPM == 12_000)
        h.apply(.unitsLost, qberPPM: 12_000)
        h.apply(.linkDown, qberPPM: 12_000)
        let f = Dictionary(h.fields(now: 0), uniquingKeysWith: { a, _ in a })
        #expect(f["qber_alarms_raised"] == 1 && f["qber_alarms_cleared"] == 1 && f["units_lost_events"] == 1)
        #expect(f["alarm_qber"] == 0 && f["alarm_units_lost"] == 1 && f["alarm_configuration_invalid"] == 0)
        #expect(f["device_state"] == UInt64(DeviceStatus.State.linkDown.rawValue))
        #expect(f["events_received"] == 4)
        h.apply(.linkUp, qberPPM: 12_000)
        #expect(h.state == DeviceHealth.unknownState)
    }
}
