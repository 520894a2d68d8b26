import AKRPConfig
import AKRPManagement
import ArgumentParser
import Foundation

/// `akrpctl echo TEXT`: the box's management interface answers with the same text.
struct EchoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo", abstract: "Check the box's management interface (SMP): it echoes TEXT back.")

    @OptionGroup var smp: SMPConnectionOptions
    @Argument(help: "The text to echo.") var text: String = "ping"
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
        let client = try SMPClient(smp)
        let start = SMPClient.now()
        let answer = try client.request(group: SMPGroup.os, command: 0, write: true, [("d", .text(text))])
        let ms = (SMPClient.now() - start) * 1000
        guard answer["r"]?.textValue == text else { throw SMPClientError("the box echoed something else: \(answer)") }
        if json {
            print(JSONValue.object([("echo", .string(text)), ("round_trip_ms", .real(ms))]).text)
        } else {
            print("\(client.place): echo '\(text)' in \(String(format: "%.1f", ms)) ms")
        }
    }
}

/// `akrpctl reset`: a graceful restart of the box's daemon.
struct ResetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset",
        abstract: "Restart the box's daemon gracefully (requests in flight finish; a configuration marked for test starts).")

    @OptionGroup var smp: SMPConnectionOptions
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
        let client = try SMPClient(smp)
        _ = try client.request(group: SMPGroup.os, command: 5, write: true)
        print(json ? JSONValue.object([("reset", .bool(true))]).text : "\(client.place): restarting")
    }
}

/// Statistics over SMP: every group or one, as tables or JSON.
enum SMPStatistics {
    static func read(_ client: SMPClient, groups: [String]?) throws -> [(String, [(String, UInt64)])] {
        let names: [String]
        if let groups {
            names = groups
        } else {
            let list = try client.request(group: SMPGroup.statistics, command: 1, write: false)
            guard case .array(let items) = list["stat_list"] ?? .null else { throw SMPClientError("the box sent no stat_list") }
            names = items.compactMap(\.textValue)
        }
        var out: [(String, [(String, UInt64)])] = []
        for name in names {
            let answer = try client.request(group: SMPGroup.statistics, command: 0, write: false, [("name", .text(name))])
            guard case .map(let pairs) = answer["fields"] ?? .null else { throw SMPClientError("group \(name): no fields") }
            out.append((name, pairs.compactMap { k, v in k.textValue.flatMap { key in v.unsignedValue.map { (key, $0) } } }))
        }
        return out
    }

    static func render(_ groups: [(String, [(String, UInt64)])], json: Bool) -> String {
        if json {
            return JSONValue.object(groups.map { ($0.0, .object($0.1.map { ($0.0, .unsigned($0.1)) })) }).text
        }
        var out = ""
        for (name, fields) in groups {
            out += StatisticsRendering.render(group: name, fields)
        }
        return out
    }
}

/// `akrpctl config flash|rollback|state`: the configuration image over SMP.
struct ConfigFlash: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flash",
        abstract: "Flash a configuration into the box's inactive slot, test it with a restart, and wait for it to be confirmed.",
        discussion: """
            FILE may be the text format, a compiled image or an MCUboot container (akrpctl config compile --mcuboot). \
            The box restarts onto it and confirms it once every neighbour has reconnected; otherwise it rolls back by \
            itself. Exit status 0 when confirmed, 1 when the box rolled back or did not answer in time.
            """)

    @OptionGroup var smp: SMPConnectionOptions
    @Argument(help: "The configuration: text, image or MCUboot container.") var file: String
    @Flag(name: .long, help: "Upload and mark for test only; do not restart.") var noReset = false
    @Option(name: .long, help: "Seconds to wait for the box to confirm the configuration.") var wait: Double = 120
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else { throw ConfigCommand.failure("cannot read \(file)") }
        var bytes = [UInt8](data)
        if (try? MCUbootImage(parsing: bytes)) == nil {
            bytes = MCUbootImage.build(payload: ConfigurationImage.encode(try ConfigCommand.load(file)))
        }
        let image = try MCUbootImage(parsing: bytes)
        let client = try SMPClient(smp)
        var offset = 0
        while offset < bytes.count {
            let chunk = min(1024, bytes.count - offset)
            var body: [(String, CBORValue)] = [("off", .unsigned(UInt64(offset))), ("data", .bytes(Array(bytes[offset..<(offset + chunk)])))]
            if offset == 0 {
                body += [("image", .unsigned(0)), ("len", .unsigned(UInt64(bytes.count))), ("sha", .bytes(SHA256Digest.of(bytes)))]
            }
            let answer = try client.request(group: SMPGroup.image, command: 1, write: true, body)
            guard let next = answer["off"]?.unsignedValue, next <= UInt64(bytes.count) else { throw SMPClientError("upload: no offset in \(answer)") }
            if answer["match"]?.boolValue == false { throw SMPClientError("upload: the box's SHA-256 of the image does not match") }
            offset = Int(next)
        }
        _ = try client.request(group: SMPGroup.image, command: 0, write: true, [("hash", .bytes(image.hash)), ("confirm", .bool(false))])
        let hash = hexText(image.hash)
        if noReset {
            print(json ? JSONValue.object([("hash", .string(hash)), ("state", .string("pending"))]).text : "uploaded \(bytes.count) bytes, image \(hash) marked for test")
            return
        }
        let incarnation = try SMPStatistics.read(client, groups: ["box"]).first?.1.first { $0.0 == "incarnation" }?.1 ?? 0
        _ = try client.request(group: SMPGroup.os, command: 5, write: true)
        if !json { print("uploaded \(bytes.count) bytes, image \(hash) on test; the box restarts") }
        let deadline = SMPClient.now() + wait
        var last = "no answer"
        while SMPClient.now() < deadline {
            Thread.sleep(forTimeInterval: 0.5)
            guard let c = try? SMPClient(smp), let state = try? c.request(group: SMPGroup.image, command: 0, write: false),
                case .array(let images) = state["images"] ?? .null, let running = images.first(where: { $0["active"]?.boolValue == true }),
                let now = try? SMPStatistics.read(c, groups: ["box"]).first?.1.first(where: { $0.0 == "incarnation" })?.1,
                now != incarnation
            else { continue }
            let runningHash = running["hash"]?.bytesValue ?? []
            if runningHash == image.hash {
                if running["confirmed"]?.boolValue == true {
                    print(json ? JSONValue.object([("hash", .string(hash)), ("state", .string("confirmed"))]).text : "confirmed: the box runs \(hash)")
                    return
                }
                last = "on test, not confirmed yet"
            } else {
                last = "running \(hexText(runningHash)) (rolled back)"
                // Restarted (a new incarnation) and not running the image, and nothing pending: rolled back.
                if !images.contains(where: { $0["pending"]?.boolValue == true }) {
                    print(json ? JSONValue.object([("hash", .string(hash)), ("state", .string("rolled back"))]).text : "rolled back: \(last)")
                    throw ExitCode.failure
                }
            }
        }
        throw SMPClientError("the box did not confirm \(hash) within \(wait) s: \(last)")
    }
}

struct ConfigRollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Go back to the other configuration slot: at once for a configuration on test, else by making the previous one permanent and restarting.")

    @OptionGroup var smp: SMPConnectionOptions

    func run() throws {
        let client = try SMPClient(smp)
        let state = try client.request(group: SMPGroup.image, command: 0, write: false)
        guard case .array(let images) = state["images"] ?? .null else { throw SMPClientError("no image state") }
        if let running = images.first(where: { $0["slot"]?.unsignedValue == 0 }), running["confirmed"]?.boolValue == false {
            _ = try client.request(group: SMPGroup.os, command: 5, write: true)
            print("the configuration on test is dropped: the box restarts onto the confirmed one")
            return
        }
        guard let other = images.first(where: { $0["slot"]?.unsignedValue == 1 }), let hash = other["hash"]?.bytesValue else {
            throw SMPClientError("the box has no other configuration to go back to")
        }
        _ = try client.request(group: SMPGroup.image, command: 0, write: true, [("hash", .bytes(hash)), ("confirm", .bool(true))])
        _ = try client.request(group: SMPGroup.os, command: 5, write: true)
        print("the box restarts onto \(hexText(hash))")
    }
}

struct ConfigState: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "state", abstract: "The box's configuration slots (SMP image state).")

    @OptionGroup var smp: SMPConnectionOptions
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
        let state = try SMPClient(smp).request(group: SMPGroup.image, command: 0, write: false)
        if json {
            print(jsonValue(state).text)
            return
        }
        guard case .array(let images) = state["images"] ?? .null else { throw SMPClientError("no image state") }
        func flag(_ v: CBORValue?) -> String { v?.boolValue == true ? "yes" : "no" }
        print(deviceTable(
            ["SLOT", "VERSION", "HASH", "ACTIVE", "CONFIRMED", "PENDING"],
            images.map { i in
                ["\(i["slot"]?.unsignedValue ?? 0)", i["version"]?.textValue ?? "", hexText(i["hash"]?.bytesValue ?? []),
                 flag(i["active"]), flag(i["confirmed"]), flag(i["pending"])]
            }))
    }
}

/// SHA-256 of bytes (the package's one implementation).
enum SHA256Digest {
    static func of(_ bytes: [UInt8]) -> [UInt8] { ConfigurationImage.sha256(bytes) }
}
