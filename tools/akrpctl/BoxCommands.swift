import AKRPConfig
import AKRPEngine
import AKRPKeySource
import AKRPManagement
import AKRPWire
import ArgumentParser
import Foundation

/// `akrpctl key`: end-to-end keys from the box's control socket.
struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Request an end-to-end key from this box, or fetch one delivered to it.",
        subcommands: [KeyRequestCommand.self, KeyGetCommand.self])
}

/// Options shared by the key commands.
struct KeyOutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    @Flag(name: .long, help: "Also print the key bytes (hex). Without it only the key's SHA-256 digest is shown.")
    var showKey = false
}

/// `akrpctl key request --to NODE --bits N`.
struct KeyRequestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request",
        abstract: "Ask the box for an end-to-end key shared with another box.",
        discussion: """
            The box relays the key with AKRP and answers once the destination has confirmed that it holds \
            the same key; the destination's application fetches it there with `akrpctl key get --id ID`. \
            Keys are whole key units: N is rounded up to a multiple of the unit size (256 bits by default).
            """)

    @OptionGroup var box: BoxConnectionOptions
    @OptionGroup var output: KeyOutputOptions

    @Option(name: .long, help: "Node ID of the box at the other end.")
    var to: UInt32

    @Option(name: .long, help: "Key length in bits (a multiple of 8).")
    var bits: Int = 256

    func validate() throws {
        guard to != 0 else { throw ValidationError("--to must be a node ID (1…4294967295)") }
        guard bits >= 8, bits % 8 == 0, bits / 8 <= ControlMessage.maximumDataLength else {
            throw ValidationError("--bits must be a multiple of 8 between 8 and \(ControlMessage.maximumDataLength * 8)")
        }
    }

    func run() throws {
        let client = try ControlClient(box)
        var m = ControlMessage(kind: .keyRequest)
        m.destination = NodeID(to)
        m.keyLength = UInt16(bits / 8)
        var (answer, key) = try client.exchange(m, expecting: .keyResponse)
        defer { key.withUnsafeMutableBytes { wipe($0) } }
        try printKey(answer, key, output: output, action: "request")
    }
}

/// `akrpctl key get --id ID`.
struct KeyGetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Fetch a key delivered to this box, by its ID (handed out once, then wiped).")

    @OptionGroup var box: BoxConnectionOptions
    @OptionGroup var output: KeyOutputOptions

    @Option(name: .long, help: "The key's ID as the requesting box printed it: SOURCE:SERIAL.")
    var id: String

    func validate() throws {
        guard KeyIdentifier.parse(id) != nil else {
            throw ValidationError("--id must be SOURCE:SERIAL (two numbers, e.g. 1:1048577), got '\(id)'")
        }
    }

    func run() throws {
        guard let request = KeyIdentifier.parse(id) else { throw ValidationError("bad --id") }
        let client = try ControlClient(box)
        var m = ControlMessage(kind: .keyFetchRequest)
        m.request = request
        var (answer, key) = try client.exchange(m, expecting: .keyResponse)
        defer { key.withUnsafeMutableBytes { wipe($0) } }
        try printKey(answer, key, output: output, action: "get")
    }
}

enum KeyIdentifier {
    static func parse(_ text: String) -> RequestID? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let source = UInt32(parts[0]), source != 0, let serial = UInt32(parts[1]) else { return nil }
        return RequestID(source: NodeID(source), serial: serial)
    }
}

/// Prints a key answer; a refusal is an error (exit status 1) with the box's reason.
func printKey(_ answer: ControlMessage, _ key: [UInt8], output: KeyOutputOptions, action: String) throws {
    let status = FrameDecoding.keyStatusName(answer.status)
    guard answer.status == 0, !key.isEmpty else {
        if output.json {
            print(JSONValue.object([("id", .string(answer.request.source == .none ? "" : answer.request.description)),
                                     ("status", .string(status))]).text)
        }
        throw DeviceCommandFailure("key \(action) failed: \(status)" + (answer.request.source == .none ? "" : " (key \(answer.request))"))
    }
    let digest = SHA256.hash(key).map { String($0, radix: 16).leftPadded(2) }.joined()
    let hex = output.showKey ? key.map { String($0, radix: 16).leftPadded(2) }.joined() : nil
    if output.json {
        var fields: [(String, JSONValue)] = [
            ("id", .string(answer.request.description)), ("status", .string("delivered")),
            ("bits", .unsigned(UInt64(key.count * 8))), ("sha256", .string(digest)),
        ]
        if let hex { fields.append(("key", .string(hex))) }
        print(JSONValue.object(fields).text)
    } else {
        print("key \(answer.request)  \(key.count * 8) bits  sha256 \(digest)")
        if let hex { print("key bytes \(hex)") }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// `akrpctl stats`: key statistics per link and for the box.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Key statistics of the box: per link and totals.",
        discussion: """
            Without GROUP and SMP options: the control socket's per-link table. With GROUP (box, engine, smp, \
            link-N, peer-N, device-N), --watch, or an SMP option (--port, --udp, --smp-socket): the named \
            statistics groups of the management interface (all of them when GROUP is omitted).
            """)

    @OptionGroup var box: BoxConnectionOptions
    @OptionGroup var smp: SMPConnectionOptions

    @Argument(help: "A statistics group of the management interface.")
    var group: String?

    @Flag(name: .long, help: "Redraw every second until interrupted (SMP statistics).")
    var watch = false

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        if smp.named || group != nil || watch {
            let client = try SMPClient(smp)
            repeat {
                let text = SMPStatistics.render(try SMPStatistics.read(client, groups: group.map { [$0] }), json: json)
                if watch && !json { print("\u{1B}[H\u{1B}[2J", terminator: "") }
                print(text, terminator: json ? "\n" : "")
                if watch { Thread.sleep(forTimeInterval: 1) }
            } while watch
            return
        }
        let client = try ControlClient(box)
        var pages: [ControlMessage] = []
        var page: UInt16 = 0
        repeat {
            var m = ControlMessage(kind: .statisticsRequest)
            m.page = page
            let (answer, _) = try client.exchange(m, expecting: .statisticsResponse)
            pages.append(answer)
            page += 1
        } while page < pages[0].pageCount
        let totals = pages[0].totals
        var links: [LinkStatistics] = []
        for p in pages { for i in 0..<Int(p.linkCount) { links.append(p.links[i]) } }
        if json {
            let linkObjects: [JSONValue] = links.map { s in
                .object([
                    ("link", .string(linkText(s.link))), ("available_units", .unsigned(s.availableUnits)),
                    ("reserved_units", .unsigned(s.reservedUnits)), ("consumed_units", .unsigned(s.consumedUnits)),
                    ("discarded_units", .unsigned(s.discardedUnits)), ("authentication_bytes", .unsigned(s.authenticationBytes)),
                ])
            }
            print(
                JSONValue.object([
                    ("node", .unsigned(UInt64(pages[0].from.rawValue))),
                    ("delivered_keys", .unsigned(totals.deliveredKeys)), ("delivered_key_bytes", .unsigned(totals.deliveredKeyBytes)),
                    ("failed_requests", .unsigned(totals.failedRequests)),
                    ("authentication_bytes", .unsigned(totals.authenticationBytes)), ("links", .array(linkObjects)),
                ]).text)
        } else {
            print("node \(pages[0].from.rawValue): \(totals.deliveredKeys) keys delivered (\(totals.deliveredKeyBytes) bytes), "
                + "\(totals.failedRequests) requests failed, \(totals.authenticationBytes) bytes of link key spent on authentication")
            let rows = links.map { s in
                [linkText(s.link), "\(s.availableUnits)", "\(s.reservedUnits)", "\(s.consumedUnits)", "\(s.discardedUnits)",
                 "\(s.authenticationBytes)"]
            }
            print(deviceTable(["LINK", "AVAILABLE", "RESERVED", "CONSUMED", "DISCARDED", "AUTH BYTES"], rows))
        }
    }
}

/// `akrpctl dump`: the box's whole state (no key bytes).
struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Dump the box's state: links, pools, high-water marks, peers, key sources, engine counters, key store.")

    @OptionGroup var box: BoxConnectionOptions
    @OptionGroup var smp: SMPConnectionOptions

    @Flag(name: .long, help: "Print the JSON document instead of a summary.")
    var json = false

    func run() throws {
        var bytes: [UInt8] = []
        if smp.named {
            // The management interface's dump (AKRP group 64): also pool unit states, reservations, open requests.
            let client = try SMPClient(smp)
            var total = 1
            while bytes.count < total {
                let a = try client.request(group: SMPGroup.akrp, command: 0, write: false, [("off", .unsigned(UInt64(bytes.count)))])
                guard let t = a["len"]?.unsignedValue, let data = a["data"]?.bytesValue, a["off"]?.unsignedValue == UInt64(bytes.count) else {
                    throw SMPClientError("the box sent a malformed dump chunk")
                }
                total = Int(t)
                bytes += data
                if data.isEmpty { break }
            }
        } else {
            bytes = try controlDump()
        }
        if json {
            print(String(decoding: bytes, as: UTF8.self))
            return
        }
        guard let doc = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw DeviceCommandFailure("the box's dump is not JSON")
        }
        print(DumpSummary.render(doc))
    }

    func controlDump() throws -> [UInt8] {
        let client = try ControlClient(box)
        var bytes: [UInt8] = []
        var offset: UInt32 = 0
        var total: UInt32 = 1
        while offset < total {
            var m = ControlMessage(kind: .stateDumpRequest)
            m.offset = offset
            let (answer, data) = try client.exchange(m, expecting: .stateDumpResponse)
            guard answer.offset == offset else { throw DeviceCommandFailure("the box sent dump bytes out of order") }
            total = answer.totalLength
            bytes += data
            offset += UInt32(data.count)
            if data.isEmpty { break }
        }
        return bytes
    }
}

/// The human summary of a dump.
enum DumpSummary {
    /// A link source's health column: measured key rate; for a USB device QBER and the alarms raised.
    static func health(_ h: [String: Any]) -> String {
        func value(_ key: String) -> UInt64? { (h[key] as? NSNumber)?.uint64Value }
        var fields: [(String, UInt64)] = []
        for key in ["measured_key_rate_bps", "qber_ppm", "alarm_qber", "alarm_units_lost", "alarm_configuration_invalid"] {
            if let v = value(key) { fields.append((key, v)) }
        }
        guard let line = StatisticsRendering.healthLine(fields) else { return "-" }
        return line
    }

    static func render(_ doc: [String: Any]) -> String {
        func n(_ any: Any?) -> String { any.map { "\($0)" } ?? "?" }
        var out = "node \(n(doc["node"])) '\(n(doc["name"]))', incarnation \(n(doc["incarnation"])), up \(n(doc["uptime_ms"])) ms\n"
        let links = doc["links"] as? [[String: Any]] ?? []
        var rows: [[String]] = []
        for l in links {
            let pool = l["pool"] as? [String: Any] ?? [:]
            let frames = l["frames"] as? [String: Any] ?? [:]
            let source = l["source"] as? [String: Any] ?? [:]
            rows.append([
                n(l["link"]), (l["connected"] as? Bool ?? false) ? "yes" : "no", (l["up"] as? Bool ?? false) ? "yes" : "no",
                "\(n(pool["head"]))…\(n(pool["tail"]))", n(l["high_water_mark"]), n(pool["available_delivered"]),
                n(pool["held"]), "\(n(frames["sent"]))/\(n(frames["received"]))",
                "\(n(frames["forged"]))/\(n(frames["unverifiable"]))", n(source["state"]),
                DumpSummary.health(source["health"] as? [String: Any] ?? [:]),
            ])
        }
        out += deviceTable(
            ["LINK", "CONNECTED", "UP", "POOL HEAD…TAIL", "MARK", "AVAILABLE", "HELD", "FRAMES OUT/IN", "FORGED/UNVERIFIABLE", "SOURCE", "KEY RATE, QBER, ALARMS"],
            rows) + "\n"
        if let e = doc["engine"] as? [String: Any] {
            out += "engine: \(n(e["requests_started"])) requests started, \(n(e["requests_failed"])) failed, "
                + "\(n(e["keys_delivered_as_source"])) keys as source, \(n(e["keys_delivered_as_destination"])) as destination, "
                + "\(n(e["conflicts_resolved"])) conflicts resolved, \(n(e["units_yielded"])) units yielded\n"
        }
        if let k = doc["key_store"] as? [String: Any] {
            out += "key store: \(n(k["held"])) of \(n(k["capacity"])) held, \(n(k["fetched"])) fetched, \(n(k["expired"])) expired"
        }
        return out
    }
}
