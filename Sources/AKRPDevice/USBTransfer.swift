internal import AKRPEngine
internal import CLibUSB

/// One preallocated libusb transfer and its buffer.
///
/// Ownership rule: from `libusb_submit_transfer` until its callback has run, the transfer belongs
/// to libusb. Whoever submits it passes a *retained* reference to its owner as `user_data`, and the
/// callback takes that reference back (``USBKeyStream``), so the owner — and with it this object,
/// its transfer and its buffer — outlives every submission. A transfer is therefore freed only in
/// `deinit`, which cannot run while it is in flight; it is never freed on a timeout.
final class USBTransfer: @unchecked Sendable {
    /// The libusb transfer.
    let transfer: UnsafeMutablePointer<libusb_transfer>
    /// The transfer's buffer.
    let buffer: UnsafeMutablePointer<UInt8>
    /// The buffer's size, bytes.
    let bufferSize: Int

    /// Allocates a transfer and a zeroed buffer of `bufferSize` bytes.
    /// - Throws: ``DeviceError/usb(_:operation:)`` (`.noMemory`) when libusb cannot allocate the
    ///   transfer.
    init(bufferSize: Int) throws(DeviceError) {
        guard let transfer = libusb_alloc_transfer(0) else {
            throw .usb(.noMemory, operation: "libusb_alloc_transfer")
        }
        self.transfer = transfer
        self.bufferSize = bufferSize
        buffer = .allocate(capacity: bufferSize)
        buffer.initialize(repeating: 0, count: bufferSize)
    }

    /// The buffer as raw bytes (for wiping).
    var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: buffer, count: bufferSize) }

    deinit {
        wipe(bytes)
        buffer.deallocate()
        libusb_free_transfer(transfer)
    }
}
