import AKRPConfig
import AKRPDevice
import AKRPEngine
import ArgumentParser
import Foundation

/// `akrpctl device`: one QKD device over USB.
struct DeviceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device",
        abstract: "Inspect or configure one QKD device over USB.",
        subcommands: [DeviceInfoCommand.self, DeviceFlashCommand.self])
}

struct DeviceSerialOption: ParsableArguments {
    @Option(name: .long, help: "The device's serial number (see `akrpctl devices`; letter case does not matter).")
    var serial: String

    /// The attached device's serial as it spells it: an exact match, else the one match ignoring case;
    /// otherwise an error that lists the closest serials.
    func resolved() throws -> String {
        let attached = (try? DeviceDiscovery.attachedDevices().map(\.serial)) ?? []
        if attached.contains(serial) { return serial }
        let folded = attached.filter { $0.lowercased() == serial.lowercased() }
        if folded.count == 1 { return folded[0] }
        let close = attached.filter { DeviceSerialOption.distance(Array($0.lowercased().utf8), Array(serial.lowercased().utf8)) <= 2 }
        let hint = close.isEmpty
            ? (attached.isEmpty ? " (no QKD device is attached)" : " (attached: \(attached.joined(separator: ", ")))")
            : " (did you mean \(close.joined(separator: " or "))?)"
        throw DeviceCommandFailure("no attached QKD device has serial \(serial)" + hint)
    }

    static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// `akrpctl device info --serial S [--json]`.
struct DeviceInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show a device's identity, status and link configuration.")

    @OptionGroup var device: DeviceSerialOption
    @Flag(name: .long, help: "Print a JSON object instead of text.")
    var json = false

    func run() throws {
        let context: USBContext
        do { context = try USBContext(hotplug: false) } catch { throw DeviceCommandFailure("\(error)") }
        defer { context.shutdown() }
        let serial = try device.resolved()
        do {
            let opened = try QKDDevice.open(serial: serial, in: context)
            let info = try opened.info()
            let status = try opened.status()
            let slots = try opened.configurationSlots()
            let configuration = try opened.readConfiguration()
            let firmware = "\(info.firmwareVersion >> 16).\((info.firmwareVersion >> 8) & 0xFF).\(info.firmwareVersion & 0xFF)"
            if json {
                print(
                    JSONValue.object([
                        ("serial", .string(info.serial)), ("bus", .unsigned(UInt64(opened.bus))),
                        ("address", .unsigned(UInt64(opened.address))), ("protocolVersion", .unsigned(UInt64(info.protocolVersion))),
                        ("firmware", .string(firmware)), ("link", .string(linkText(info.link))),
                        ("localNode", .unsigned(UInt64(info.localNode.rawValue))), ("peer", .unsigned(UInt64(info.peer.rawValue))),
                        ("unitSize", .unsigned(UInt64(info.unitSize))), ("maxFrameUnits", .unsigned(UInt64(info.maxFrameUnits))),
                        ("maxKeyRateBitsPerSecond", .unsigned(UInt64(info.maxKeyRate))), ("status", .string(status.state.name)),
                        ("alarms", .array(alarmNames(status.alarms).map { .string($0) })),
                        ("keyRateBitsPerSecond", .unsigned(UInt64(status.keyRate))), ("qberPPM", .unsigned(UInt64(status.qberPPM))),
                        ("bufferedUnits", .unsigned(UInt64(status.bufferedUnits))), ("nextUnitIndex", .unsigned(status.nextUnitIndex)),
                        ("oldestUnitIndex", .unsigned(status.oldestUnitIndex)), ("unitsLost", .unsigned(status.unitsLost)),
                        ("configurationGeneration", .unsigned(UInt64(slots.generation))),
                        ("configurationSlot", .unsigned(UInt64(slots.activeSlot))),
                        ("configuration", .string(configuration.text)),
                    ]).text)
            } else {
                print(
                    """
                    serial            \(info.serial) (bus \(opened.bus), address \(opened.address))
                    firmware          \(firmware), interface protocol \(info.protocolVersion)
                    link              \(linkText(info.link)), local node \(info.localNode.rawValue), peer \(info.peer.rawValue)
                    units             \(info.unitSize) bytes, at most \(info.maxFrameUnits) per frame
                    status            \(status.state.name)\(status.alarms == 0 ? "" : ", alarms: " + alarmNames(status.alarms).joined(separator: ", "))
                    key rate          \(status.keyRate) bit/s (device maximum \(info.maxKeyRate) bit/s)
                    QBER              \(Double(status.qberPPM) / 10_000) %
                    buffered units    \(status.bufferedUnits) (next index \(status.nextUnitIndex), oldest \(status.oldestUnitIndex), lost \(status.unitsLost))
                    configuration     generation \(slots.generation) in slot \(slots.activeSlot), CRC-32C 0x\(String(slots.crc, radix: 16))
                    """)
                print(configuration.text.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            }
        } catch {
            throw DeviceCommandFailure("\(error)")
        }
    }
}

/// `akrpctl device flash --serial S FILE`.
struct DeviceFlashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flash",
        abstract: "Validate a link configuration file, write it to the device, read it back and verify.",
        discussion: """
            FILE holds `name = value` lines (# starts a comment): link (e.g. 3-7), local-node, \
            unit-size (bytes, default 32), frame-units (default 256), min-key-rate (bit/s, default 0), \
            qber-alarm (fraction, default 0.05), label (quoted, at most 48 bytes). See Hardware/QKD-USB.md. \
            The device commits a new configuration atomically: an interrupted flash leaves the previous one in force.
            """)

    @OptionGroup var device: DeviceSerialOption
    @Argument(help: "The link configuration file.")
    var file: String

    @Flag(name: .long, help: "Validate and show what would change; write nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Allow a change of the device's link or local node (its identity in the network).")
    var force = false

    func run() throws {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw DeviceCommandFailure("\(file): cannot read the file (missing, unreadable or not UTF-8)")
        }
        let configuration: LinkConfiguration
        do {
            configuration = try LinkConfiguration(parsing: text)
        } catch {
            throw DeviceCommandFailure("\(file): \(error)")
        }
        let context: USBContext
        do { context = try USBContext(hotplug: false) } catch { throw DeviceCommandFailure("\(error)") }
        defer { context.shutdown() }
        let serial = try device.resolved()
        do {
            let opened = try QKDDevice.open(serial: serial, in: context)
            let current = try opened.readConfiguration()
            let identityChange = current.link != configuration.link || current.localNode != configuration.localNode
            let change = "link \(linkText(current.link)) -> \(linkText(configuration.link)), local node "
                + "\(current.localNode.rawValue) -> \(configuration.localNode.rawValue)"
            if dryRun {
                print("dry run: \(opened.serial): \(file) is valid; \(identityChange ? "identity change: " + change : "same link and local node (\(linkText(current.link)), node \(current.localNode.rawValue))"); nothing written")
                return
            }
            if identityChange && !force {
                throw DeviceCommandFailure(
                    "\(opened.serial): \(file) changes the device's identity (\(change)); the relay box will key another link. "
                        + "Check with --dry-run, then repeat with --force")
            }
            let report = try opened.flash(configuration)
            print(
                "flashed \(opened.serial): link \(linkText(configuration.link)), local node \(configuration.localNode.rawValue); "
                    + "generation \(report.previousGeneration) -> \(report.generation), \(report.bytesWritten) bytes in "
                    + "\(report.chunks) chunks, CRC-32C 0x\(String(report.crc, radix: 16)); read back and verified")
        } catch let failure as DeviceCommandFailure {
            throw failure
        } catch DeviceError.unplugged(let serial) {
            throw DeviceCommandFailure(
                "flash interrupted: device \(serial) was unplugged (disconnected) during the write; a configuration is only in "
                    + "force once committed, so the previous one stays unless the commit was reached — plug it in again and "
                    + "check with `akrpctl device info --serial \(serial)`")
        } catch DeviceError.verificationFailed(let reason) {
            throw DeviceCommandFailure("flash committed but not verified: \(reason); check with `akrpctl device info`")
        } catch {
            throw DeviceCommandFailure("flash failed: \(error); a configuration is only in force once committed; check with `akrpctl device info`")
        }
    }
}
