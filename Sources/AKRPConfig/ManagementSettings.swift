public import AKRPEngine

/// The box's management interface (SMP, docs/MANAGEMENT.md): where it listens and how a flashed
/// configuration is confirmed. Written in the `[management]` section of the text file.
public struct ManagementSettings: Sendable, Equatable {
    /// The default UDP address: loopback only, MCUmgr's usual port.
    public static let defaultUDP = NetworkAddress(host: "127.0.0.1", port: 1337)

    /// Path of the SMP Unix socket (mode 0660); empty: `smp.sock` next to the control socket.
    public var socket: String = ""
    /// SMP over UDP; nil when off. Default ``defaultUDP`` (a bind failure of the default is logged, not fatal).
    public var udp: NetworkAddress? = ManagementSettings.defaultUDP
    /// Whether ``udp`` was written in the file (then a bind failure stops the box).
    public var udpConfigured = false
    /// Serial line (the USB CDC-ACM gadget's tty, e.g. `/dev/ttyGS0`); empty when none.
    public var serial: String = ""
    /// How long a configuration under test may take to reconnect every neighbour before the box rolls back.
    public var confirmTimeout: Nanoseconds = 60 * ConfigurationLimits.second

    public init() {}

    /// The SMP socket's path for a box whose control socket is `controlSocket`.
    public func socketPath(controlSocket: String) -> String {
        if !socket.isEmpty { return socket }
        guard let slash = controlSocket.lastIndex(of: "/") else { return "smp.sock" }
        return String(controlSocket[...slash]) + "smp.sock"
    }

    /// Whether every value is the default (the image then carries no management section).
    var isDefault: Bool { self == ManagementSettings() }
}

// MARK: - text

extension ConfigurationParser {
    /// The `[management]` section's fields.
    static func readManagement(_ r: ConfigurationFieldReader, into m: inout ManagementSettings) throws(ConfigurationFileError) {
        r.string("socket", into: &m.socket)
        if let udp = r.text("udp") {
            m.udp = udp == "off" ? nil : try r.address("udp", udp)
            m.udpConfigured = true
        }
        r.string("serial", into: &m.serial)
        try r.duration("confirm-timeout-s", ConfigurationLimits.positiveDuration, seconds: true, into: &m.confirmTimeout)
    }
}

extension ManagementSettings {
    /// The `[management]` section as text (nothing when every value is the default).
    var rendered: String {
        guard !isDefault else { return "" }
        var out = "\n[management]\n"
        if !socket.isEmpty { out += "socket = \(TextValue.formatString(socket))\n" }
        if udpConfigured || udp != ManagementSettings.defaultUDP { out += "udp = \(udp?.description ?? "off")\n" }
        if !serial.isEmpty { out += "serial = \(TextValue.formatString(serial))\n" }
        if confirmTimeout != ManagementSettings().confirmTimeout {
            out += "confirm-timeout-s = \(TextValue.seconds(confirmTimeout))\n"
        }
        return out
    }

    /// The settings as JSON.
    var json: JSONValue {
        .object([
            ("socket", .string(socket)), ("udp", udp.map { .string($0.description) } ?? .null),
            ("serial", .string(serial)), ("confirmTimeoutNanoseconds", .unsigned(confirmTimeout)),
        ])
    }
}

// MARK: - image

/// Optional sections after the fixed body of a configuration image: `tag:u8 length:u32 bytes`, each
/// tag at most once. An image without them is the version-1 image it always was.
enum ConfigurationImageExtension: UInt8 {
    case management = 0x4D

    static func encode(_ c: NodeConfiguration, into w: inout ImageWriter) {
        guard !c.management.isDefault else { return }
        var m = ImageWriter()
        m.string(c.management.socket)
        m.bool(c.management.udp != nil)
        m.string(c.management.udp?.host ?? "")
        m.u16(c.management.udp?.port ?? 0)
        m.bool(c.management.udpConfigured)
        m.string(c.management.serial)
        m.u64(c.management.confirmTimeout)
        w.u8(management.rawValue)
        w.count(m.bytes.count)
        w.bytes += m.bytes
    }

    static func decode(_ r: inout ImageReader, into c: inout NodeConfiguration) throws(ConfigurationImageError) {
        var seen = false
        // Anything that is not a whole known section is left for the caller's "bytes left" check.
        while r.remaining >= 5, r.bytes[r.offset] == management.rawValue {
            let at = r.offset
            let tag = try r.u8("extension")
            let length = try r.count("extension", maximum: r.remaining, itemSize: 1)
            let end = r.offset + length
            guard tag == management.rawValue, !seen else {
                throw r.malformed(at, "extension", "unknown or repeated section tag \(tag)")
            }
            seen = true
            var m = ManagementSettings()
            let max = ConfigurationImage.maximumStringBytes
            m.socket = try r.string("management socket", maximum: max)
            let hasUDP = try r.bool("management udp")
            let host = try r.string("management udp", maximum: max)
            let port = try r.u16("management udp")
            m.udp = hasUDP ? NetworkAddress(host: host, port: port) : nil
            m.udpConfigured = try r.bool("management udp")
            m.serial = try r.string("management serial", maximum: max)
            m.confirmTimeout = try r.u64("management confirm-timeout-s")
            guard r.offset == end else { throw r.malformed(r.offset, "management", "section length does not match its fields") }
            c.management = m
        }
    }
}
