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
    /// ED25519 public keys (32 bytes each) provisioned to sign configuration images; when any is given, an
    /// uploaded image must carry a valid signature by one of them. Empty: no signature needed.
    public var imageKeys: [[UInt8]] = []

    /// The defaults: SMP socket next to the control socket, UDP on ``defaultUDP``, no serial line,
    /// 60 s confirm timeout, no image keys.
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
        if let keys = r.text("image-keys") {
            m.imageKeys = []
            for word in keys.split(separator: ",") {
                let hex = word.trimmingBlanks()
                guard let key = ManagementSettings.bytes(hex: hex), key.count == 32 else {
                    throw r.invalid("image-keys", "each key must be 64 hex digits (an ED25519 public key), got '\(hex)'")
                }
                m.imageKeys.append(key)
            }
            guard !m.imageKeys.isEmpty, m.imageKeys.count <= 16 else {
                throw r.invalid("image-keys", "give 1 to 16 keys separated by commas")
            }
        }
    }
}

extension ManagementSettings {
    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < digits.count {
            guard let hi = nibble(digits[i]), let lo = nibble(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let d = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes { out += [d[Int(b >> 4)], d[Int(b & 15)]] }
        return String(decoding: out, as: UTF8.self)
    }

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
        if !imageKeys.isEmpty { out += "image-keys = \(imageKeys.map(ManagementSettings.hex).joined(separator: ","))\n" }
        return out
    }

    /// The settings as JSON.
    var json: JSONValue {
        .object([
            ("socket", .string(socket)), ("udp", udp.map { .string($0.description) } ?? .null),
            ("serial", .string(serial)), ("confirmTimeoutNanoseconds", .unsigned(confirmTimeout)),
            ("imageKeys", .array(imageKeys.map { .string(ManagementSettings.hex($0)) })),
        ])
    }
}

// MARK: - image

/// Optional sections after the fixed body of a configuration image: `tag:u8 length:u32 bytes`, each
/// tag at most once, in any order. An image without them is the version-1 image it always was; a section
/// is written only when its settings differ from the defaults, and a missing one means the defaults.
enum ConfigurationImageExtension: UInt8 {
    /// `[management]`.
    case management = 0x4D
    /// Engine settings added after version 1 of the image: `delivered-hold-ms` (u64 ns).
    case engine = 0x45
    /// `link-state-hold-ms` (u64 ns), added after `delivered-hold-ms`.
    case linkStateHold = 0x4C
    /// `detour-reserve` (f64, key blocks), added after `link-state-hold-ms`.
    case detourReserve = 0x52
    /// `frame-hold-ms` (u64 ns), added after `detour-reserve`.
    case frameHold = 0x46

    static func encode(_ c: NodeConfiguration, into w: inout ImageWriter) {
        if !c.management.isDefault {
            var m = ImageWriter()
            m.string(c.management.socket)
            m.bool(c.management.udp != nil)
            m.string(c.management.udp?.host ?? "")
            m.u16(c.management.udp?.port ?? 0)
            m.bool(c.management.udpConfigured)
            m.string(c.management.serial)
            m.u64(c.management.confirmTimeout)
            m.count(c.management.imageKeys.count)
            for key in c.management.imageKeys { m.string(ManagementSettings.hex(key)) }
            section(.management, m, into: &w)
        }
        let defaults = EngineConfiguration()
        durationSection(.engine, c.engine.deliveredHold, unless: defaults.deliveredHold, into: &w)
        durationSection(.linkStateHold, c.engine.linkStateHold, unless: defaults.linkStateHold, into: &w)
        if c.engine.detourReserve.bitPattern != defaults.detourReserve.bitPattern {
            var e = ImageWriter()
            e.f64(c.engine.detourReserve)
            section(.detourReserve, e, into: &w)
        }
        durationSection(.frameHold, c.engine.frameHold, unless: defaults.frameHold, into: &w)
    }

    /// An optional section holding one duration (u64 ns), written only when it is not the default.
    private static func durationSection(
        _ tag: ConfigurationImageExtension, _ value: Nanoseconds, unless defaultValue: Nanoseconds, into w: inout ImageWriter
    ) {
        guard value != defaultValue else { return }
        var e = ImageWriter()
        e.u64(value)
        section(tag, e, into: &w)
    }

    private static func section(_ tag: ConfigurationImageExtension, _ body: ImageWriter, into w: inout ImageWriter) {
        w.u8(tag.rawValue)
        w.count(body.bytes.count)
        w.bytes += body.bytes
    }

    static func decode(_ r: inout ImageReader, into c: inout NodeConfiguration) throws(ConfigurationImageError) {
        var seen: Set<UInt8> = []
        // Anything that is not a whole known section is left for the caller's "bytes left" check.
        while r.remaining >= 5, let kind = ConfigurationImageExtension(rawValue: r.bytes[r.offset]) {
            let at = r.offset
            let tag = try r.u8("extension")
            let length = try r.count("extension", maximum: r.remaining, itemSize: 1)
            let end = r.offset + length
            guard seen.insert(tag).inserted else {
                throw r.malformed(at, "extension", "repeated section tag \(tag)")
            }
            switch kind {
            case .management: c.management = try decodeManagement(&r)
            case .engine: c.engine.deliveredHold = try r.u64("delivered-hold-ms")
            case .linkStateHold: c.engine.linkStateHold = try r.u64("link-state-hold-ms")
            case .detourReserve: c.engine.detourReserve = try r.f64("detour-reserve")
            case .frameHold: c.engine.frameHold = try r.u64("frame-hold-ms")
            }
            guard r.offset == end else {
                let name: String
                switch kind {
                case .management: name = "management"
                case .engine: name = "engine"
                case .linkStateHold: name = "link-state-hold-ms"
                case .detourReserve: name = "detour-reserve"
                case .frameHold: name = "frame-hold-ms"
                }
                throw r.malformed(r.offset, name, "section length does not match its fields")
            }
        }
    }

    private static func decodeManagement(_ r: inout ImageReader) throws(ConfigurationImageError) -> ManagementSettings {
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
        let keys = try r.count("management image-keys", maximum: 16, itemSize: 68)
        for _ in 0..<keys {
            let at = r.offset
            let text = try r.string("management image-keys", maximum: 64)
            guard let key = ManagementSettings.bytes(hex: text), key.count == 32 else {
                throw r.malformed(at, "management image-keys", "not a 32-byte key in hex")
            }
            m.imageKeys.append(key)
        }
        return m
    }
}
