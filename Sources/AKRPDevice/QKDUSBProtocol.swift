public import AKRPEngine

/// Constants of the QKD USB interface (Hardware/QKD-USB.md).
public enum QKDUSB {
    /// A supported (vendor, product) pair.
    public struct DeviceID: Hashable, Sendable {
        /// USB vendor ID.
        public var vendor: UInt16
        /// USB product ID.
        public var product: UInt16
    }

    /// IDs the driver binds to. `1209:0001` is pid.codes' test PID, used by the emulated device
    /// and development hardware; production IDs are added here when assigned.
    public static let supportedIDs: [DeviceID] = [DeviceID(vendor: 0x1209, product: 0x0001)]
    /// The vendor-specific interface: class 0xFF, subclass 0x51 ('Q'), protocol 1.
    public static let interfaceNumber: Int32 = 0
    static let interfaceClass: UInt8 = 0xFF
    static let interfaceSubclass: UInt8 = 0x51
    static let interfaceProtocol: UInt8 = 0x01
    /// Bulk IN endpoint streaming key frames.
    static let keyEndpoint: UInt8 = 0x81
    /// Interrupt IN endpoint for events.
    static let eventEndpoint: UInt8 = 0x82
    /// Size of a key frame header in bytes.
    public static let frameHeaderSize = 32
    static let frameMagic: UInt32 = 0x4644_4B51  // "QKDF"
    static let infoMagic: UInt32 = 0x4944_4B51  // "QKDI"
    /// Bytes per configuration chunk on the control pipe.
    public static let configChunkSize = 32
    /// Largest configuration blob a device accepts.
    public static let configMaxLength = 1024
    static let eventSize = 16
    static let controlTimeoutMilliseconds: UInt32 = 2000
}

/// Vendor control requests (interface recipient; wIndex = interface number).
enum VendorRequest: UInt8, CustomStringConvertible {
    case getInfo = 0x01
    case getStatus = 0x02
    case streamStart = 0x03
    case streamStop = 0x04
    case streamResync = 0x05
    case configInfo = 0x10
    case configRead = 0x11
    case configBegin = 0x12
    case configChunk = 0x13
    case configCommit = 0x14

    var description: String {
        switch self {
        case .getInfo: "GET_INFO"
        case .getStatus: "GET_STATUS"
        case .streamStart: "STREAM_START"
        case .streamStop: "STREAM_STOP"
        case .streamResync: "STREAM_RESYNC"
        case .configInfo: "CONFIG_INFO"
        case .configRead: "CONFIG_READ"
        case .configBegin: "CONFIG_BEGIN"
        case .configChunk: "CONFIG_CHUNK"
        case .configCommit: "CONFIG_COMMIT"
        }
    }
}

/// What a device says about itself (GET_INFO).
public struct DeviceInfo: Equatable, Sendable {
    /// Interface protocol version (1).
    public var protocolVersion: UInt16
    /// Key unit size in bytes.
    public var unitSize: Int
    /// Most units the device puts in one frame.
    public var maxFrameUnits: Int
    /// The link the device serves (from its configuration).
    public var link: LinkID
    /// The node the device is attached to.
    public var localNode: NodeID
    /// Firmware version, `major << 16 | minor << 8 | patch`.
    public var firmwareVersion: UInt32
    /// Highest secret key rate the device can produce, bits per second.
    public var maxKeyRate: UInt32
    /// Serial number.
    public var serial: String

    /// The node at the other end of the link.
    public var peer: NodeID { link.peer(of: localNode) }

    static let size = 64

    init?(decoding bytes: UnsafeRawBufferPointer) {
        var cursor = ByteCursor(bytes)
        guard bytes.count == Self.size, cursor.read(UInt32.self) == QKDUSB.infoMagic,
            let version = cursor.read(UInt16.self), let unitSize = cursor.read(UInt16.self),
            let maxFrame = cursor.read(UInt16.self), cursor.skip(2),
            let low = cursor.read(UInt32.self), let high = cursor.read(UInt32.self),
            let local = cursor.read(UInt32.self), let firmware = cursor.read(UInt32.self),
            let rate = cursor.read(UInt32.self), let serial = cursor.readText(32)
        else { return nil }
        protocolVersion = version
        self.unitSize = Int(unitSize)
        maxFrameUnits = Int(maxFrame)
        link = LinkID(NodeID(low), NodeID(high))
        localNode = NodeID(local)
        firmwareVersion = firmware
        maxKeyRate = rate
        self.serial = serial
    }
}

/// A device's current state (GET_STATUS).
public struct DeviceStatus: Equatable, Sendable {
    /// Stream state.
    public enum State: UInt8, Sendable {
        /// Configured, link up, not streaming.
        case idle = 0
        /// Streaming key frames.
        case streaming = 1
        /// The quantum link is down: no key is produced.
        case linkDown = 2
    }
    /// Stream state; `nil` for a code this driver does not know.
    public var state: State?
    /// Alarm bits: ``qberAlarm``, ``unitsLostAlarm``, ``configurationInvalidAlarm``.
    public var alarms: UInt8
    /// The device's last request error code (0 = none).
    public var lastError: UInt8
    /// Current secret key rate, bits per second.
    public var keyRate: UInt32
    /// Current quantum bit error rate, parts per million.
    public var qberPPM: UInt32
    /// Units produced and not yet sent to the host.
    public var bufferedUnits: UInt32
    /// Index of the next unit the stream will send.
    public var nextUnitIndex: UnitIndex
    /// Oldest unit index the device still holds (a resync cannot go further back).
    public var oldestUnitIndex: UnitIndex
    /// Units the device lost (buffer overflow, or resync behind the oldest unit) since power-up.
    public var unitsLost: UInt64
    /// Frames sent since power-up.
    public var framesSent: UInt32

    /// QBER above the configured threshold.
    public static let qberAlarm: UInt8 = 1
    /// The device lost units.
    public static let unitsLostAlarm: UInt8 = 2
    /// No valid configuration.
    public static let configurationInvalidAlarm: UInt8 = 4

    static let size = 48

    init?(decoding bytes: UnsafeRawBufferPointer) {
        var cursor = ByteCursor(bytes)
        guard bytes.count == Self.size, let state = cursor.read(UInt8.self), let alarms = cursor.read(UInt8.self),
            let lastError = cursor.read(UInt8.self), cursor.skip(1), let rate = cursor.read(UInt32.self),
            let qber = cursor.read(UInt32.self), let buffered = cursor.read(UInt32.self),
            let next = cursor.read(UInt64.self), let oldest = cursor.read(UInt64.self),
            let lost = cursor.read(UInt64.self), let frames = cursor.read(UInt32.self)
        else { return nil }
        self.state = State(rawValue: state)
        self.alarms = alarms
        self.lastError = lastError
        keyRate = rate
        qberPPM = qber
        bufferedUnits = buffered
        nextUnitIndex = next
        oldestUnitIndex = oldest
        unitsLost = lost
        framesSent = frames
    }

    /// A name for a device error code.
    public static func errorName(_ code: UInt8) -> String {
        switch code {
        case 0: "none"
        case 1: "bad request"
        case 2: "bad length"
        case 3: "CRC mismatch"
        case 4: "chunk out of sequence"
        case 5: "no configuration write open"
        case 6: "invalid configuration"
        default: "unknown"
        }
    }
}

/// An event from the interrupt endpoint.
public struct DeviceEvent: Equatable, Sendable {
    /// What happened.
    public enum Kind: Equatable, Sendable {
        /// The quantum link came up.
        case linkUp
        /// The quantum link went down.
        case linkDown
        /// QBER rose above the configured threshold.
        case qberAlarm
        /// QBER fell back below the threshold.
        case qberCleared
        /// The device lost units (its buffer overflowed).
        case unitsLost
        /// A code this driver does not know.
        case unknown(UInt8)
    }
    /// What happened.
    public var kind: Kind
    /// QBER at the time, parts per million.
    public var qberPPM: UInt32
    /// The stream position at the time.
    public var unitIndex: UnitIndex

    init?(decoding bytes: UnsafeRawBufferPointer) {
        var cursor = ByteCursor(bytes)
        guard bytes.count == QKDUSB.eventSize, let code = cursor.read(UInt8.self), cursor.skip(3),
            let qber = cursor.read(UInt32.self), let index = cursor.read(UInt64.self)
        else { return nil }
        switch code {
        case 1: kind = .linkUp
        case 2: kind = .linkDown
        case 3: kind = .qberAlarm
        case 4: kind = .qberCleared
        case 5: kind = .unitsLost
        default: kind = .unknown(code)
        }
        qberPPM = qber
        unitIndex = index
    }
}

/// The fixed header of a key frame on the bulk IN endpoint.
struct KeyFrameHeader: Equatable {
    var link: LinkID
    var firstIndex: UnitIndex
    var unitCount: Int
    var unitSize: Int
    var crc: UInt32
    var flags: UInt16

    /// The first frame after STREAM_START or STREAM_RESYNC.
    static let firstAfterResync: UInt16 = 1
    /// The device lost units just before this frame (its buffer overflowed).
    static let afterLoss: UInt16 = 2

    /// Why a frame was rejected.
    enum Rejection: Error, Equatable {
        case tooShort
        case badMagic
        case lengthMismatch
        case badCRC
        case wrongLink
        case wrongUnitSize
        case empty
    }

    /// Checks the frame in `bytes` (exactly one transfer's data) for `link` and `unitSize`.
    static func validate(_ bytes: UnsafeRawBufferPointer, link: LinkID, unitSize: Int) throws(Rejection) -> KeyFrameHeader {
        var cursor = ByteCursor(bytes)
        guard bytes.count >= QKDUSB.frameHeaderSize else { throw .tooShort }
        guard cursor.read(UInt32.self) == QKDUSB.frameMagic, let low = cursor.read(UInt32.self),
            let high = cursor.read(UInt32.self), let first = cursor.read(UInt64.self),
            let count = cursor.read(UInt16.self), let size = cursor.read(UInt16.self),
            let crc = cursor.read(UInt32.self), let flags = cursor.read(UInt16.self)
        else { throw .badMagic }
        guard bytes.count == QKDUSB.frameHeaderSize + Int(count) * Int(size) else { throw .lengthMismatch }
        // CRC over the whole frame with the CRC field taken as zero.
        var computed = CRC32C.update(0, UnsafeRawBufferPointer(rebasing: bytes[0..<24]))
        computed = withUnsafeBytes(of: UInt32(0)) { CRC32C.update(computed, $0) }
        computed = CRC32C.update(computed, UnsafeRawBufferPointer(rebasing: bytes[28...]))
        guard computed == crc else { throw .badCRC }
        guard low == link.low.rawValue, high == link.high.rawValue else { throw .wrongLink }
        guard Int(size) == unitSize else { throw .wrongUnitSize }
        guard count > 0 else { throw .empty }
        return KeyFrameHeader(
            link: link, firstIndex: first, unitCount: Int(count), unitSize: Int(size), crc: crc, flags: flags)
    }
}
