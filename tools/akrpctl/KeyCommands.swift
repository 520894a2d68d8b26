import AKRPConfig
import AKRPEngine
import AKRPManagement
import AKRPKeySource
import ArgumentParser
import Foundation

/// `akrpctl key`: end-to-end keys through the box's management interface (SMP, AKRP group commands 1
/// and 2 — answered only on the box's Unix socket, so key bytes never cross UDP or the USB line).
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
            The box relays the key with AKRP; akrpctl waits until the destination has confirmed that it holds \
            the same key, then fetches it (once). The destination's application fetches it there with \
            `akrpctl key get --id ID`. Keys are whole key units: N is rounded up to a multiple of the unit \
            size (256 bits by default). Served on the box's SMP Unix socket only.
            """)

    @OptionGroup var smp: SMPConnectionOptions
    @OptionGroup var output: KeyOutputOptions

    @Option(name: .long, help: "Node ID of the box at the other end.")
    var to: UInt32

    @Option(name: .long, help: "Key length in bits (a multiple of 8).")
    var bits: Int = 256

    @Option(name: .long, help: "Seconds to wait for the key (the box gives up earlier after its request-timeout-ms).")
    var wait: Double = 60

    func validate() throws {
        guard to != 0 else { throw ValidationError("--to must be a node ID (1…4294967295)") }
        guard bits >= 8, bits % 8 == 0, bits / 8 <= Int(UInt16.max) else {
            throw ValidationError("--bits must be a multiple of 8 between 8 and \(Int(UInt16.max) * 8)")
        }
        guard wait > 0, wait <= 86_400 else { throw ValidationError("--wait must be 0…86400 seconds") }
    }

    func run() throws {
        let client = try SMPClient(smp)
        let answer = try KeyFetch.command(client, 1, [("to", .unsigned(UInt64(to))), ("bytes", .unsigned(UInt64(bits / 8)))], action: "request")
        guard case .text(let status) = answer["status"], status == "waiting", case .text(let id) = answer["id"] else {
            let reason = answer["reason"].flatMap { if case .text(let t) = $0 { t } else { nil } } ?? "no reason given"
            try reportFailure(id: nil, status: "refused", reason: reason, output: output, action: "request")
            return
        }
        let deadline = Date().addingTimeInterval(wait)
        while true {
            let outcome = try KeyFetch.get(client, id: id, action: "request")
            switch outcome {
            case .waiting:
                guard Date() < deadline else {
                    try reportFailure(id: id, status: "waiting", reason: "no key within --wait \(wait) s", output: output, action: "request")
                    return
                }
                Thread.sleep(forTimeInterval: 0.02)
            case .failed(let reason):
                try reportFailure(id: id, status: "failed", reason: reason, output: output, action: "request")
            case .delivered(var key):
                defer { key.withUnsafeMutableBytes { wipe($0) } }
                printKey(id: id, key, output: output)
                return
            }
        }
    }
}

/// `akrpctl key get --id ID`.
struct KeyGetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Fetch a key delivered to this box, by its ID (handed out once, then wiped).")

    @OptionGroup var smp: SMPConnectionOptions
    @OptionGroup var output: KeyOutputOptions

    @Option(name: .long, help: "The key's ID as the requesting box printed it: SOURCE:SERIAL.")
    var id: String

    func validate() throws {
        let parts = id.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let source = UInt32(parts[0]), source != 0, UInt32(parts[1]) != nil else {
            throw ValidationError("--id must be SOURCE:SERIAL (two numbers, e.g. 1:1048577), got '\(id)'")
        }
    }

    func run() throws {
        let client = try SMPClient(smp)
        switch try KeyFetch.get(client, id: id, action: "get") {
        case .waiting:
            try reportFailure(id: id, status: "waiting", reason: "the request is still waiting for its key", output: output, action: "get")
        case .failed(let reason):
            try reportFailure(id: id, status: "failed", reason: reason, output: output, action: "get")
        case .delivered(var key):
            defer { key.withUnsafeMutableBytes { wipe($0) } }
            printKey(id: id, key, output: output)
        }
    }
}

/// One read of a key's outcome (AKRP group command 2).
enum KeyFetch {
    case waiting
    case failed(String)
    case delivered([UInt8])

    /// Sends key command `command` (AKRP group, write) and returns the answer; the group's errors are
    /// said in words.
    static func command(_ client: SMPClient, _ command: UInt8, _ body: [(String, CBORValue)], action: String) throws -> CBORValue {
        do {
            return try client.request(group: SMPGroup.akrp, command: command, write: true, body)
        } catch let error as SMPClientError {
            let id = body.first { $0.0 == "id" }.flatMap { if case .text(let t) = $0.1 { t } else { nil } } ?? ""
            switch error.groupError {
            case SMPClientError.GroupError(group: SMPGroup.akrp, code: 1):
                throw DeviceCommandFailure(
                    "key \(action) failed: the box answers key commands only on its Unix socket (--smp-socket), not over \(client.place)")
            case SMPClientError.GroupError(group: SMPGroup.akrp, code: 2):
                throw DeviceCommandFailure(
                    "key \(action) failed: the box has no key \(id) (never delivered here, already fetched, or expired)")
            case SMPClientError.GroupError(group: SMPGroup.akrp, code: 3):
                throw DeviceCommandFailure("key \(action) failed: too many key requests are waiting at the box; try again later")
            default:
                throw error
            }
        }
    }

    static func get(_ client: SMPClient, id: String, action: String) throws -> KeyFetch {
        let answer = try command(client, 2, [("id", .text(id))], action: action)
        guard case .text(let status) = answer["status"] else { throw DeviceCommandFailure("the box's key answer has no status") }
        switch status {
        case "waiting": return .waiting
        case "failed":
            if case .text(let reason) = answer["reason"] { return .failed(reason) }
            return .failed("no reason given")
        case "delivered":
            guard case .bytes(let key) = answer["key"], !key.isEmpty else {
                throw DeviceCommandFailure("the box's key answer carries no key")
            }
            return .delivered(key)
        default:
            throw DeviceCommandFailure("the box's key answer has an unknown status '\(status)'")
        }
    }
}

/// Prints a refused, failed or unfinished key operation (with `--json`, as a JSON object too) and fails
/// with exit status 1.
func reportFailure(id: String?, status: String, reason: String, output: KeyOutputOptions, action: String) throws {
    if output.json {
        var fields: [(String, JSONValue)] = [("status", .string(status)), ("reason", .string(reason))]
        if let id { fields.insert(("id", .string(id)), at: 0) }
        print(JSONValue.object(fields).text)
    }
    throw DeviceCommandFailure("key \(action) \(status): \(reason)" + (id.map { " (key \($0))" } ?? ""))
}

/// Prints a delivered key: its ID, length and SHA-256; the bytes only with `--show-key`.
func printKey(id: String, _ key: [UInt8], output: KeyOutputOptions) {
    let digest = SHA256.hash(key).map { hexByte($0) }.joined()
    let hex = output.showKey ? key.map { hexByte($0) }.joined() : nil
    if output.json {
        var fields: [(String, JSONValue)] = [
            ("id", .string(id)), ("status", .string("delivered")), ("bits", .unsigned(UInt64(key.count * 8))),
            ("sha256", .string(digest)),
        ]
        if let hex { fields.append(("key", .string(hex))) }
        print(JSONValue.object(fields).text)
    } else {
        print("key \(id)  \(key.count * 8) bits  sha256 \(digest)")
        if let hex { print("key bytes \(hex)") }
    }
}

private func hexByte(_ b: UInt8) -> String {
    let s = String(b, radix: 16)
    return s.count == 1 ? "0" + s : s
}
