/// The standard SMP return codes (MCUmgr `MGMT_ERR_*`), carried as `rc` in an error answer.
public enum SMPReturnCode: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    case ok = 0
    case unknown = 1
    case noMemory = 2
    case invalidValue = 3
    case timeout = 4
    case noEntry = 5
    case badState = 6
    case messageTooLarge = 7
    case notSupported = 8
    case corrupt = 9
    case busy = 10
    case accessDenied = 11
    case protocolTooOld = 12
    case protocolTooNew = 13

    /// A short English name of the code (e.g. "command not supported").
    public var description: String {
        switch self {
        case .ok: "ok"
        case .unknown: "unknown error"
        case .noMemory: "out of memory"
        case .invalidValue: "invalid value"
        case .timeout: "timeout"
        case .noEntry: "no such entry"
        case .badState: "bad state"
        case .messageTooLarge: "message too large"
        case .notSupported: "command not supported"
        case .corrupt: "corrupt"
        case .busy: "busy"
        case .accessDenied: "access denied"
        case .protocolTooOld: "protocol version too old"
        case .protocolTooNew: "protocol version too new"
        }
    }
}

/// The standard SMP groups, and the first user group number.
public enum SMPGroup {
    /// OS group: echo, reset, MCUmgr parameters, OS/application info (docs/MANAGEMENT.md).
    public static let os: UInt16 = 0
    /// Image group: state, upload of the configuration image (docs/MANAGEMENT.md).
    public static let image: UInt16 = 1
    /// Statistics group: group data and list (docs/MANAGEMENT.md).
    public static let statistics: UInt16 = 2
    /// Settings group: read, write and commit of the tunable admission settings (docs/MANAGEMENT.md).
    public static let settings: UInt16 = 3
    /// Groups from 64 up are for applications.
    public static let firstUser: UInt16 = 64
    /// The AKRP group: state dump (docs/MANAGEMENT.md).
    public static let akrp: UInt16 = 64
}
