internal import CLibUSB
public import AKRPEngine

/// What CONFIG_INFO reports about the device's two configuration slots.
public struct ConfigurationSlots: Equatable, Sendable {
    /// The slot in force (0 or 1).
    public var activeSlot: UInt8
    /// Bit `i` set: slot `i` holds a valid configuration.
    public var validSlots: UInt8
    /// Generation of the configuration in force (incremented by every committed write).
    public var generation: UInt32
    /// Length of the configuration in force, bytes.
    public var length: Int
    /// CRC-32C of the configuration in force.
    public var crc: UInt32
}

/// The outcome of ``QKDDevice/flash(_:)``.
public struct FlashReport: Equatable, Sendable {
    /// Generation in force before the write.
    public var previousGeneration: UInt32
    /// Generation in force after the write (previous + 1).
    public var generation: UInt32
    /// Configuration bytes written.
    public var bytesWritten: Int
    /// Chunks written.
    public var chunks: Int
    /// CRC-32C of the configuration written and read back.
    public var crc: UInt32
}

/// An open QKD device with its vendor interface claimed.
///
/// Holds its ``USBContext`` strongly and is counted by it (the context's event thread and libusb
/// stay up while the handle is open); the interface is released and the handle closed when the
/// object goes away. Control requests are synchronous and may be made from any thread except
/// the context's event thread while inside a libusb callback.
public final class QKDDevice: @unchecked Sendable {
    /// The context this device was opened in.
    public let context: USBContext
    /// The serial number.
    public let serial: String
    /// USB bus number.
    public let bus: UInt8
    /// Device address on the bus.
    public let address: UInt8
    let handle: OpaquePointer

    /// Opens the attached QKD device with serial number `serial`.
    /// - Throws: ``DeviceError/notFound(serial:)`` when no such device is attached, or a USB error.
    public static func open(serial: String, in context: USBContext) throws(DeviceError) -> QKDDevice {
        guard let attached = try DeviceDiscovery.attachedDevices().first(where: { $0.serial == serial }) else {
            throw .notFound(serial: serial)
        }
        return try QKDDevice(context: context, bus: attached.bus, address: attached.address, serial: serial)
    }

    /// Opens the QKD device at `bus`/`address` and claims its interface.
    /// - Throws: ``DeviceError`` when the device is not there or cannot be opened or claimed, or
    ///   when `context` was shut down.
    public init(context: USBContext, bus: UInt8, address: UInt8, serial: String? = nil) throws(DeviceError) {
        // Counted before libusb is touched: the context must not be released under an open handle.
        try context.loop.acquireHandle()
        let opened: (handle: OpaquePointer, serial: String)
        do {
            opened = try Self.openHandle(context: context, bus: bus, address: address, serial: serial)
        } catch {
            context.loop.releaseHandle()
            throw error
        }
        self.context = context
        self.handle = opened.handle
        self.bus = bus
        self.address = address
        self.serial = opened.serial
    }

    /// Finds the device at `bus`/`address`, opens it, checks its serial and claims its interface.
    private static func openHandle(
        context: USBContext, bus: UInt8, address: UInt8, serial: String?
    ) throws(DeviceError) -> (handle: OpaquePointer, serial: String) {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let count = libusb_get_device_list(context.raw, &list)
        guard count >= 0, let list else {
            throw .usb(USBError(rawValue: Int32(truncatingIfNeeded: count)), operation: "libusb_get_device_list")
        }
        defer { libusb_free_device_list(list, 1) }
        var match: OpaquePointer?
        for i in 0..<Int(count) {
            if let device = list[i], libusb_get_bus_number(device) == bus, libusb_get_device_address(device) == address {
                match = device
            }
        }
        guard let device = match else { throw .notFound(serial: serial ?? "bus \(bus) address \(address)") }
        var descriptor = libusb_device_descriptor()
        guard libusb_get_device_descriptor(device, &descriptor) == 0,
            QKDUSB.supportedIDs.contains(QKDUSB.DeviceID(vendor: descriptor.idVendor, product: descriptor.idProduct))
        else { throw .notFound(serial: serial ?? "bus \(bus) address \(address)") }
        var opened: OpaquePointer?
        let status = libusb_open(device, &opened)
        guard status == 0, let opened else { throw .usb(USBError(rawValue: status), operation: "libusb_open") }
        var serialText = serial ?? ""
        var buffer = [UInt8](repeating: 0, count: 128)
        let length = buffer.withUnsafeMutableBufferPointer {
            libusb_get_string_descriptor_ascii(opened, descriptor.iSerialNumber, $0.baseAddress, Int32($0.count))
        }
        if length > 0 { serialText = String(decoding: buffer.prefix(Int(length)), as: UTF8.self) }
        if let serial, length > 0, serialText != serial {
            libusb_close(opened)
            throw .notFound(serial: serial)
        }
        let claim = libusb_claim_interface(opened, QKDUSB.interfaceNumber)
        guard claim == 0 else {
            libusb_close(opened)
            throw .usb(USBError(rawValue: claim), operation: "libusb_claim_interface")
        }
        return (opened, serialText)
    }

    deinit {
        // Releasing a claimed interface of an unplugged device fails; the handle is closed anyway.
        _ = libusb_release_interface(handle, QKDUSB.interfaceNumber)
        libusb_close(handle)
        context.loop.releaseHandle()
    }

    // MARK: requests

    /// Reads the device's identity and link (GET_INFO).
    public func info() throws(DeviceError) -> DeviceInfo {
        let bytes = try controlIn(.getInfo, length: DeviceInfo.size)
        guard let info = bytes.withUnsafeBytes({ DeviceInfo(decoding: $0) }) else {
            throw .malformedReply(request: "GET_INFO", reason: "\(bytes.count) bytes or bad magic")
        }
        return info
    }

    /// Reads the device's status (GET_STATUS).
    public func status() throws(DeviceError) -> DeviceStatus {
        let bytes = try controlIn(.getStatus, length: DeviceStatus.size)
        guard let status = bytes.withUnsafeBytes({ DeviceStatus(decoding: $0) }) else {
            throw .malformedReply(request: "GET_STATUS", reason: "\(bytes.count) bytes")
        }
        return status
    }

    /// Starts the key stream (STREAM_START).
    public func startStream() throws(DeviceError) { try controlOut(.streamStart) }

    /// Stops the key stream (STREAM_STOP); buffered units stay in the device.
    public func stopStream() throws(DeviceError) { try controlOut(.streamStop) }

    /// Makes the next frame start at `index`, or at the device's oldest unit if that is later
    /// (STREAM_RESYNC). Units before the new start are gone for good.
    public func resync(from index: UnitIndex) throws(DeviceError) {
        var writer = ByteWriter()
        writer.write(index)
        try controlOut(.streamResync, data: writer.bytes)
    }

    /// Reports the configuration slots (CONFIG_INFO).
    public func configurationSlots() throws(DeviceError) -> ConfigurationSlots {
        let bytes = try controlIn(.configInfo, length: 16)
        let slots: ConfigurationSlots? = bytes.withUnsafeBytes { raw in
            var c = ByteCursor(raw)
            guard raw.count == 16, let active = c.read(UInt8.self), let valid = c.read(UInt8.self), c.skip(2),
                let generation = c.read(UInt32.self), let length = c.read(UInt32.self), let crc = c.read(UInt32.self)
            else { return nil }
            return ConfigurationSlots(activeSlot: active, validSlots: valid, generation: generation, length: Int(length), crc: crc)
        }
        guard let slots, slots.length <= QKDUSB.configMaxLength else {
            throw .malformedReply(request: "CONFIG_INFO", reason: "\(bytes.count) bytes or length out of range")
        }
        return slots
    }

    /// Reads the configuration in force, chunk by chunk, and checks its CRC.
    /// - Returns: the raw blob (not validated; see ``readConfiguration()``).
    public func readConfigurationBlob() throws(DeviceError) -> (blob: [UInt8], slots: ConfigurationSlots) {
        let slots = try configurationSlots()
        var blob: [UInt8] = []
        var chunk: UInt16 = 0
        while blob.count < slots.length {
            let want = min(QKDUSB.configChunkSize, slots.length - blob.count)
            let bytes = try controlIn(.configRead, value: chunk, length: want)
            guard bytes.count == want else {
                throw .malformedReply(request: "CONFIG_READ", reason: "chunk \(chunk): \(bytes.count) bytes, expected \(want)")
            }
            blob += bytes
            chunk += 1
        }
        guard CRC32C.checksum(blob) == slots.crc else {
            throw .malformedReply(request: "CONFIG_READ", reason: "CRC mismatch")
        }
        return (blob, slots)
    }

    /// Reads and decodes the configuration in force.
    public func readConfiguration() throws(DeviceError) -> LinkConfiguration {
        let blob = try readConfigurationBlob().blob
        do { return try LinkConfiguration(blob: blob) } catch { throw .configuration(error) }
    }

    /// Writes `configuration` into the inactive slot and commits it (CONFIG_BEGIN, CONFIG_CHUNK…,
    /// CONFIG_COMMIT). If anything fails before the commit, the previous configuration stays in
    /// force. `chunkWritten` is called after each chunk (for progress reports and tests).
    public func writeConfiguration(
        _ configuration: LinkConfiguration, chunkWritten: (Int) -> Void = { _ in }
    ) throws(DeviceError) -> Int {
        do { try configuration.validate() } catch { throw .configuration(error) }
        let blob = configuration.blob
        var begin = ByteWriter()
        begin.write(UInt32(blob.count))
        begin.write(CRC32C.checksum(blob))
        try controlOut(.configBegin, data: begin.bytes)
        var chunks = 0
        var offset = 0
        while offset < blob.count {
            let end = min(offset + QKDUSB.configChunkSize, blob.count)
            try controlOut(.configChunk, value: UInt16(chunks), data: Array(blob[offset..<end]))
            chunks += 1
            offset = end
            chunkWritten(chunks)
        }
        try controlOut(.configCommit)
        return chunks
    }

    /// Writes `configuration`, reads it back and verifies it: the companion tool's flash.
    /// - Throws: ``DeviceError/verificationFailed(reason:)`` when the read-back differs, or the
    ///   error of the failing step (the previous configuration then stays in force).
    public func flash(_ configuration: LinkConfiguration, chunkWritten: (Int) -> Void = { _ in }) throws(DeviceError) -> FlashReport {
        let before = try configurationSlots()
        let chunks = try writeConfiguration(configuration, chunkWritten: chunkWritten)
        let (blob, after) = try readConfigurationBlob()
        let expected = configuration.blob
        guard blob == expected else { throw .verificationFailed(reason: "configuration read back differs from the one written") }
        guard after.generation == before.generation &+ 1 else {
            throw .verificationFailed(reason: "generation \(after.generation), expected \(before.generation &+ 1)")
        }
        return FlashReport(
            previousGeneration: before.generation, generation: after.generation, bytesWritten: expected.count,
            chunks: chunks, crc: after.crc)
    }

    // MARK: control transfers

    func controlIn(_ request: VendorRequest, value: UInt16 = 0, length: Int) throws(DeviceError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: length)
        let result = buffer.withUnsafeMutableBufferPointer {
            libusb_control_transfer(
                handle, 0xC1, request.rawValue, value, UInt16(QKDUSB.interfaceNumber), $0.baseAddress, UInt16(length),
                QKDUSB.controlTimeoutMilliseconds)
        }
        guard result >= 0 else { throw failure(result, request) }
        return Array(buffer.prefix(Int(result)))
    }

    func controlOut(_ request: VendorRequest, value: UInt16 = 0, data: [UInt8] = []) throws(DeviceError) {
        var payload = data
        let result = payload.withUnsafeMutableBufferPointer {
            libusb_control_transfer(
                handle, 0x41, request.rawValue, value, UInt16(QKDUSB.interfaceNumber), $0.baseAddress, UInt16($0.count),
                QKDUSB.controlTimeoutMilliseconds)
        }
        guard result >= 0 else { throw failure(result, request) }
        guard Int(result) == data.count else {
            throw .malformedReply(request: request.description, reason: "device took \(result) of \(data.count) bytes")
        }
    }

    private func failure(_ result: Int32, _ request: VendorRequest) -> DeviceError {
        let error = USBError(rawValue: result)
        if error == .noDevice || error == .io && !stillAttached() { return .unplugged(serial: serial) }
        if error == .pipe, request != .getStatus {
            // The device's own reason, when it can still tell; otherwise the USB error as it is.
            do throws(DeviceError) {
                let code = try status().lastError
                // No reason from the device: it did not refuse, the request broke (e.g. an unplug under way).
                if code == 0 { return stillAttached() ? .usb(.pipe, operation: request.description) : .unplugged(serial: serial) }
                return .rejected(request: request.description, deviceError: code)
            } catch let statusError {
                if case .unplugged = statusError { return statusError }
                return .usb(.pipe, operation: request.description)
            }
        }
        return .usb(error, operation: request.description)
    }

    /// Whether udev still lists the device. When udev cannot be asked, the answer is "yes": the
    /// caller then reports the USB error itself rather than an unplug it could not confirm.
    private func stillAttached() -> Bool {
        do throws(DeviceError) {
            return try DeviceDiscovery.attachedDevices().contains { $0.bus == bus && $0.address == address }
        } catch {
            return true
        }
    }
}
