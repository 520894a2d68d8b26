import AKRPConfig
import AKRPDevice
import AKRPEngine
import Logging

extension LinkFeed {
    /// Time between two status reads (GET_STATUS) of a USB device, nanoseconds.
    static let statusReadInterval: Nanoseconds = 2_000_000_000
    /// Time between two looks at a USB device's events when it did not signal any, nanoseconds.
    static let eventCheckInterval: Nanoseconds = 250_000_000

    /// Housekeeping of the device health, on the loop: samples the delivered units for the key rate; for a
    /// USB device takes its events (at once when it signalled), applies a finished status read and starts the
    /// next one when due. Never waits for the device.
    func healthTick(now: Nanoseconds, logger: Logger) {
        rateWindow.sample(now: now, delivered: unitsDelivered)
        guard let usb = source as? USBKeySource, let poller = statusPoller else { return }
        if signalled || now >= nextEventCheck {
            nextEventCheck = now &+ Self.eventCheckInterval
            for event in usb.takeEvents() {
                let before = health.alarms
                health.apply(event.kind, qberPPM: event.qberPPM)
                nextStatusRead = now  // confirm with a status read
                if health.alarms != before || event.kind == .linkDown || event.kind == .linkUp {
                    logger.notice(
                        "device event",
                        metadata: ["neighbour": "\(neighbour.rawValue)", "serial": "\(usb.serial)", "event": "\(event.kind)",
                                   "qber_ppm": "\(event.qberPPM)", "alarms": "\(health.alarms)"])
                }
            }
        }
        if let outcome = poller.take() {
            switch outcome.result {
            case .success(let status?):
                if !health.apply(status, at: now, sequence: outcome.sequence) { nextStatusRead = now }
            case .success(nil):
                break  // detached or closing: the source reports that itself
            case .failure(let error):
                health.statusReadFailures &+= 1
                logger.warning(
                    "device status read failed",
                    metadata: ["neighbour": "\(neighbour.rawValue)", "serial": "\(usb.serial)", "error": "\(error)"])
            }
        }
        if now >= nextStatusRead && poller.begin(usb, sequence: health.eventSequence) {
            nextStatusRead = now &+ Self.statusReadInterval
        }
    }

    /// The health fields of the statistics group `device-N`: the measured key rate for every source; for a USB
    /// device its state, QBER, alarms and event counts.
    func healthFields(now: Nanoseconds, unitSize: Int) -> [(String, UInt64)] {
        var fields = [("measured_key_rate_bps", rateWindow.bitsPerSecond(unitSize: unitSize))]
        if let usb = source as? USBKeySource {
            var known = health
            if !usb.isAttached { known.state = DeviceHealth.unknownState }  // the last read says nothing now
            fields += known.fields(now: now)
            fields.append(("events_dropped", usb.counters.eventsDropped))
        }
        return fields
    }
}
