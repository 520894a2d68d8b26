import AKRPConfig
import AKRPEngine
import AKRPKeySource
import AKRPManagement
import AKRPWire
import ArgumentParser
import Foundation

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
