import AKRPEngine
import AKRPWire
import ArgumentParser
import Foundation

/// `akrpctl decode`: turns captured AKRP frames into readable text or JSON.
struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode captured AKRP wire frames (neighbour or control) into text or JSON.",
        discussion: """
            Input is one frame or several concatenated frames, as hex (--hex, spaces and newlines \
            allowed) or as a binary file (FILE, or standard input when FILE is '-' or omitted). Neighbour \
            frames are decoded without checking their tag (that needs the link's key); the tag is shown. \
            Key bytes in key responses are redacted unless --show-key is given. On malformed or empty \
            input, prints one line on standard error and exits with status 1.
            """)

    @Option(name: .long, help: "The frame bytes in hex, e.g. \"41 4b 01 …\".")
    var hex: String?

    @Argument(help: "A file holding the raw frame bytes ('-' or omitted: standard input).")
    var file: String?

    @Flag(name: .long, help: "Print the key bytes of key responses (redacted by default).")
    var showKey = false

    @Flag(name: .long, help: "Print one JSON object per frame instead of text.")
    var json = false

    @Option(name: .long, help: "Largest frame accepted, in bytes.")
    var maximumFrameSize = WireFormat.defaultMaximumFrameSize

    func validate() throws {
        guard hex == nil || file == nil else {
            throw ValidationError("give one of --hex HEX or FILE, not both")
        }
    }

    func run() throws {
        do throws(DecodeFailure) {
            let input = try readInput()
            let frames = try FrameDecoding.decodeAll(input, maximumFrameSize: maximumFrameSize, showKey: showKey)
            for frame in frames {
                print(json ? frame.json() : frame.text())
            }
        } catch {
            FileHandle.standardError.write(Data("akrpctl decode: error: \(error.message)\n".utf8))
            throw ExitCode.failure
        }
    }

    func readInput() throws(DecodeFailure) -> [UInt8] {
        if let hex {
            return try HexText.parse(hex)
        }
        let path = file ?? "-"
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
            guard !data.isEmpty else { throw DecodeFailure("no bytes given (standard input is empty)") }
        } else {
            guard let d = FileManager.default.contents(atPath: path) else {
                throw DecodeFailure("cannot read file '\(path)'")
            }
            guard !d.isEmpty else { throw DecodeFailure("no bytes given ('\(path)' is empty)") }
            data = d
        }
        return [UInt8](data)
    }
}

/// A decode failure with its one-line message.
struct DecodeFailure: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
