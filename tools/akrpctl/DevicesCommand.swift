import AKRPConfig
import AKRPDevice
import AKRPEngine
import ArgumentParser

/// `akrpctl devices`: the attached QKD devices with their link, status and key rate.
struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List attached QKD devices: serial, link, peer, status, key rate, buffered units.")

    @Flag(name: .long, help: "Print a JSON array instead of a table.")
    var json = false

    func run() throws {
        let attached: [AttachedDevice]
        let context: USBContext
        do {
            attached = try DeviceDiscovery.attachedDevices()
            context = try USBContext(hotplug: false)
        } catch {
            throw DeviceCommandFailure("cannot list devices: \(error)")
        }
        defer { context.shutdown() }
        var rows: [[String]] = []
        var objects: [JSONValue] = []
        for device in attached {
            do {
                let opened = try QKDDevice(context: context, bus: device.bus, address: device.address, serial: device.serial)
                let info = try opened.info()
                let status = try opened.status()
                rows.append([
                    device.serial, linkText(info.link), "\(info.localNode.rawValue)", "\(info.peer.rawValue)",
                    status.state.name + (status.alarms == 0 ? "" : " (" + alarmNames(status.alarms).joined(separator: ",") + ")"),
                    "\(status.keyRate)", "\(status.bufferedUnits)",
                ])
                objects.append(
                    .object([
                        ("serial", .string(device.serial)), ("bus", .unsigned(UInt64(device.bus))),
                        ("address", .unsigned(UInt64(device.address))), ("link", .string(linkText(info.link))),
                        ("localNode", .unsigned(UInt64(info.localNode.rawValue))), ("peer", .unsigned(UInt64(info.peer.rawValue))),
                        ("status", .string(status.state.name)), ("alarms", .array(alarmNames(status.alarms).map { .string($0) })),
                        ("keyRateBitsPerSecond", .unsigned(UInt64(status.keyRate))), ("qberPPM", .unsigned(UInt64(status.qberPPM))),
                        ("bufferedUnits", .unsigned(UInt64(status.bufferedUnits))), ("unitSize", .unsigned(UInt64(info.unitSize))),
                    ]))
            } catch {
                rows.append([device.serial, "?", "?", "?", "error: \(error)", "?", "?"])
                objects.append(.object([("serial", .string(device.serial)), ("error", .string("\(error)"))]))
            }
        }
        if json {
            print(JSONValue.array(objects).text)
        } else if rows.isEmpty {
            print("no QKD devices attached")
        } else {
            print(deviceTable(["SERIAL", "LINK", "LOCAL", "PEER", "STATUS", "KEY RATE (bit/s)", "BUFFERED UNITS"], rows))
        }
    }
}

/// A one-line failure of a device command: printed as `akrpctl: <message>`, exit status 1.
struct DeviceCommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
