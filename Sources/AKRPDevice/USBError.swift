internal import CLibUSB

/// A libusb error code. Unknown codes stay representable.
///
/// The values are libusb's `enum libusb_error` (negative numbers).
public struct USBError: Error, RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The libusb error number (negative).
    public var rawValue: Int32
    /// Wraps a libusb error number.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Input/output error (`LIBUSB_ERROR_IO`).
    public static let io = USBError(rawValue: -1)
    /// Invalid parameter (`LIBUSB_ERROR_INVALID_PARAM`).
    public static let invalidParameter = USBError(rawValue: -2)
    /// Access denied: check the udev rules and the user's groups (`LIBUSB_ERROR_ACCESS`).
    public static let access = USBError(rawValue: -3)
    /// The device was disconnected (`LIBUSB_ERROR_NO_DEVICE`).
    public static let noDevice = USBError(rawValue: -4)
    /// Entity not found (`LIBUSB_ERROR_NOT_FOUND`).
    public static let notFound = USBError(rawValue: -5)
    /// Resource busy, e.g. the interface is claimed elsewhere (`LIBUSB_ERROR_BUSY`).
    public static let busy = USBError(rawValue: -6)
    /// Operation timed out (`LIBUSB_ERROR_TIMEOUT`).
    public static let timeout = USBError(rawValue: -7)
    /// The device sent more data than asked for (`LIBUSB_ERROR_OVERFLOW`).
    public static let overflow = USBError(rawValue: -8)
    /// Pipe error: the endpoint stalled or the device refused a control request (`LIBUSB_ERROR_PIPE`).
    public static let pipe = USBError(rawValue: -9)
    /// Interrupted system call (`LIBUSB_ERROR_INTERRUPTED`).
    public static let interrupted = USBError(rawValue: -10)
    /// Out of memory (`LIBUSB_ERROR_NO_MEM`).
    public static let noMemory = USBError(rawValue: -11)
    /// Not supported on this platform (`LIBUSB_ERROR_NOT_SUPPORTED`).
    public static let notSupported = USBError(rawValue: -12)

    /// libusb's name for the code, e.g. `LIBUSB_ERROR_PIPE`.
    public var description: String { String(cString: libusb_error_name(rawValue)) }

    /// Turns a libusb return value into a count or a typed error.
    @inline(__always)
    static func check(_ result: Int32) throws(USBError) -> Int {
        if result < 0 { throw USBError(rawValue: result) }
        return Int(result)
    }
}

/// What went wrong with a QKD device. Messages never contain key bytes.
public enum DeviceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A libusb call failed while doing `operation`.
    case usb(USBError, operation: String)
    /// No attached QKD device has this serial number.
    case notFound(serial: String)
    /// The device went away (unplugged) during or before the operation.
    case unplugged(serial: String)
    /// The device refused a request (stalled it); `deviceError` is the status's last-error code.
    case rejected(request: String, deviceError: UInt8)
    /// A reply did not have the layout the specification requires.
    case malformedReply(request: String, reason: String)
    /// The configuration read back differs from the one written.
    case verificationFailed(reason: String)
    /// The configuration in the device cannot be decoded.
    case configuration(LinkConfigurationError)
    /// The device now serves another link or unit size than the stream it was feeding.
    case streamMismatch(reason: String)
    /// libudev could not be used for discovery.
    case discovery(reason: String)

    /// The error in words, naming the device or the operation.
    public var description: String {
        switch self {
        case .usb(let error, let operation): "\(operation): \(error)"
        case .notFound(let serial): "no attached QKD device has serial \(serial)"
        case .unplugged(let serial): "device \(serial) was unplugged"
        case .rejected(let request, let code):
            "device refused \(request) (device error \(code): \(DeviceStatus.errorName(code)))"
        case .malformedReply(let request, let reason): "malformed reply to \(request): \(reason)"
        case .verificationFailed(let reason): "verification failed: \(reason)"
        case .configuration(let error): "device configuration: \(error)"
        case .streamMismatch(let reason): "stream mismatch: \(reason)"
        case .discovery(let reason): "discovery: \(reason)"
        }
    }
}
