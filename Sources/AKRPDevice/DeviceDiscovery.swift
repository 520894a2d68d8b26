internal import CLibUDev

/// A QKD device found on the USB bus (by libudev, from sysfs, without opening it).
public struct AttachedDevice: Equatable, Sendable {
    /// The device's serial number (its USB serial string).
    public var serial: String
    /// USB bus number.
    public var bus: UInt8
    /// Device address on the bus.
    public var address: UInt8
    /// USB vendor ID.
    public var vendorID: UInt16
    /// USB product ID.
    public var productID: UInt16
    /// The sysfs path of the device.
    public var sysPath: String
}

/// Finds attached QKD devices through libudev (`usb` subsystem, `usb_device` type, supported IDs).
public enum DeviceDiscovery {
    /// Every attached QKD device, ordered by serial.
    /// - Throws: ``DeviceError/discovery(reason:)`` when libudev cannot be used.
    public static func attachedDevices() throws(DeviceError) -> [AttachedDevice] {
        guard let udev = udev_new() else { throw .discovery(reason: "udev_new failed") }
        defer { udev_unref(udev) }
        guard let enumerator = udev_enumerate_new(udev) else { throw .discovery(reason: "udev_enumerate_new failed") }
        defer { udev_enumerate_unref(enumerator) }
        udev_enumerate_add_match_subsystem(enumerator, "usb")
        udev_enumerate_add_match_property(enumerator, "DEVTYPE", "usb_device")
        let scanned = udev_enumerate_scan_devices(enumerator)
        guard scanned >= 0 else { throw .discovery(reason: "udev_enumerate_scan_devices failed (\(scanned))") }
        var found: [AttachedDevice] = []
        var entry = udev_enumerate_get_list_entry(enumerator)
        while let current = entry {
            defer { entry = udev_list_entry_get_next(current) }
            guard let path = udev_list_entry_get_name(current), let device = udev_device_new_from_syspath(udev, path) else {
                continue
            }
            defer { udev_device_unref(device) }
            func attribute(_ name: String) -> String? {
                guard let value = udev_device_get_sysattr_value(device, name) else { return nil }
                return String(cString: value).trimmingNewline()
            }
            guard let vendor = attribute("idVendor").flatMap({ UInt16($0, radix: 16) }),
                let product = attribute("idProduct").flatMap({ UInt16($0, radix: 16) }),
                QKDUSB.supportedIDs.contains(QKDUSB.DeviceID(vendor: vendor, product: product)),
                let bus = attribute("busnum").flatMap({ UInt8($0) }),
                let address = attribute("devnum").flatMap({ UInt8($0) })
            else { continue }
            found.append(
                AttachedDevice(
                    serial: attribute("serial") ?? "", bus: bus, address: address, vendorID: vendor, productID: product,
                    sysPath: String(cString: path)))
        }
        return found.sorted { ($0.serial, $0.bus, $0.address) < ($1.serial, $1.bus, $1.address) }
    }
}

extension String {
    fileprivate func trimmingNewline() -> String {
        var s = Substring(self)
        while let c = s.last, c == "\n" || c == " " { s = s.dropLast() }
        return String(s)
    }
}
