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
            allowed) or as a binary file. Neighbour frames are decoded without checking their tag \
            (that needs the link's key); the tag is shown. On malformed input, prints one line on \
            standard error and exits with status 1.
            """)

    @Option(name: .long, help: "The frame bytes in hex, e.g. \"41 4b 01 …\".")
    var hex: String?

    @Argument(help: "A file holding the raw frame bytes.")
    var file: String?

    @Flag(name: .long, help: "Print one JSON object per frame instead of text.")
    var json = false

    @Option(name: .long, help: "Largest frame accepted, in bytes.")
    var maximumFrameSize = WireFormat.defaultMaximumFrameSize

    func validate() throws {
        guard (hex == nil) != (file == nil) else {
            throw ValidationError("give exactly one of --hex HEX or FILE")
        }
    }

    func run() throws {
        do throws(DecodeFailure) {
            let input = try readInput()
            let frames = try FrameDecoding.decodeAll(input, maximumFrameSize: maximumFrameSize)
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
        let path = file ?? ""
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DecodeFailure("cannot read file '\(path)'")
        }
        return [UInt8](data)
    }
}

/// A decode failure with its one-line message.
struct DecodeFailure: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
