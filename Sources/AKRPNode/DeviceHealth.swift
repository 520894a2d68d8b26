import AKRPEngine
import AKRPDevice

/// What the box knows about the health of one link's QKD device: the last GET_STATUS read, corrected by the
/// interrupt events received since, and counts of those events. Confined to the node's loop; fed by
/// ``LinkFeed`` (events from `USBKeySource.takeEvents()`, status reads from a ``DeviceStatusPoller``).
///
/// A status read that was under way while an event arrived is counted but not applied (it may predate the
/// event); another read follows at once.
struct DeviceHealth {
    /// `device_state` when no status read succeeded yet, after a link-up event, or for a code this box
    /// does not know.
    static let unknownState: UInt64 = 255

    /// Stream state code (``DeviceStatus/State`` raw value) or ``unknownState``.
    var state: UInt64 = DeviceHealth.unknownState
    /// QBER, parts per million (last status read or event).
    var qberPPM: UInt32 = 0
    /// Alarm bits raised now (``DeviceStatus/qberAlarm``, ``DeviceStatus/unitsLostAlarm``,
    /// ``DeviceStatus/configurationInvalidAlarm``).
    var alarms: UInt8 = 0
    /// The key rate the device reports, bits per second.
    var deviceKeyRate: UInt32 = 0
    /// Units the device reports lost since its power-up.
    var deviceUnitsLost: UInt64 = 0
    /// Events received, and by kind.
    var eventsReceived: UInt64 = 0
    var qberAlarmsRaised: UInt64 = 0
    var qberAlarmsCleared: UInt64 = 0
    var unitsLostEvents: UInt64 = 0
    var linkDownEvents: UInt64 = 0
    var linkUpEvents: UInt64 = 0
    /// Status reads that answered, failed, or were not applied because an event overtook them.
    var statusReads: UInt64 = 0
    var statusReadFailures: UInt64 = 0
    var statusReadsOvertaken: UInt64 = 0
    /// When the last status read was applied (nil: never).
    var lastStatusAt: Nanoseconds?
    /// Incremented by every event applied: a status read taken before the latest event is stale.
    private(set) var eventSequence: UInt64 = 0

    /// Applies an interrupt event.
    mutating func apply(_ kind: DeviceEvent.Kind, qberPPM eventQBER: UInt32) {
        eventSequence &+= 1
        eventsReceived &+= 1
        switch kind {
        case .qberAlarm:
            qberAlarmsRaised &+= 1
            alarms |= DeviceStatus.qberAlarm
            qberPPM = eventQBER
        case .qberCleared:
            qberAlarmsCleared &+= 1
            alarms &= ~DeviceStatus.qberAlarm
            qberPPM = eventQBER
        case .unitsLost:
            unitsLostEvents &+= 1
            alarms |= DeviceStatus.unitsLostAlarm
        case .linkDown:
            linkDownEvents &+= 1
            state = UInt64(DeviceStatus.State.linkDown.rawValue)
        case .linkUp:
            linkUpEvents &+= 1
            state = Self.unknownState  // idle or streaming: the next status read says which
        case .unknown:
            break
        }
    }

    /// Applies a status read that began when ``eventSequence`` was `sequence`.
    /// - Returns: whether it was applied (false: an event arrived meanwhile; read again).
    mutating func apply(_ status: DeviceStatus, at now: Nanoseconds, sequence: UInt64) -> Bool {
        statusReads &+= 1
        guard sequence == eventSequence else {
            statusReadsOvertaken &+= 1
            return false
        }
        state = status.state.map { UInt64($0.rawValue) } ?? Self.unknownState
        qberPPM = status.qberPPM
        alarms = status.alarms
        deviceKeyRate = status.keyRate
        deviceUnitsLost = status.unitsLost
        lastStatusAt = now
        return true
    }

    /// The health figures for the statistics group `device-N` (names documented in docs/MANAGEMENT.md).
    func fields(now: Nanoseconds) -> [(String, UInt64)] {
        func bit(_ mask: UInt8) -> UInt64 { alarms & mask != 0 ? 1 : 0 }
        return [
            ("device_state", state), ("qber_ppm", UInt64(qberPPM)),
            ("alarm_qber", bit(DeviceStatus.qberAlarm)), ("alarm_units_lost", bit(DeviceStatus.unitsLostAlarm)),
            ("alarm_configuration_invalid", bit(DeviceStatus.configurationInvalidAlarm)),
            ("qber_alarms_raised", qberAlarmsRaised), ("qber_alarms_cleared", qberAlarmsCleared),
            ("units_lost_events", unitsLostEvents), ("link_down_events", linkDownEvents), ("link_up_events", linkUpEvents),
            ("events_received", eventsReceived), ("device_key_rate_bps", UInt64(deviceKeyRate)),
            ("device_units_lost", deviceUnitsLost), ("status_reads", statusReads),
            ("status_read_failures", statusReadFailures), ("status_reads_overtaken", statusReadsOvertaken),
            ("status_age_ms", lastStatusAt.map { (now &- $0) / 1_000_000 } ?? 0),
        ]
    }
}
