import AKRPConfig
import AKRPManagement
import ArgumentParser
import Foundation

/// `akrpctl config`: check, compile and show relay box configurations (docs/CONFIG.md).
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check, compile and show akrpd configurations; flash them into a box (SMP).",
        discussion: """
            FILE may be the text format or its binary image; the image is recognised by its magic. \
            On an invalid file, prints the error naming the file, line, section and field on standard \
            error and exits with status 1.
            """,
        subcommands: [Check.self, Compile.self, Show.self, ConfigFlash.self, ConfigRollback.self, ConfigState.self])

    /// `akrpctl config check FILE`.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a configuration file (text or image).",
            discussion: "Prints 'FILE: valid (node N 'name', K neighbours, L links)' or the error.")

        @Argument(help: "The configuration file, text or image.")
        var file: String

        func run() throws {
            let c = try ConfigCommand.load(file)
            print("\(file): valid (node \(c.node.rawValue) '\(c.name)', \(c.neighbours.count) neighbours, \(c.topology.links.count) links)")
        }
    }

    /// `akrpctl config compile FILE -o IMAGE`.
    struct Compile: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compile a configuration into its binary, checksummed image.",
            discussion: """
                Writes the image atomically (a temporary file renamed over IMAGE) and prints its size and \
                SHA-256, the same as `sha256sum IMAGE`. Nothing is written when FILE is invalid.
                """)

        @Argument(help: "The configuration file, text (or an image, which is re-encoded).")
        var file: String

        @Option(name: .short, help: "The image file to write.")
        var output: String

        @Flag(
            name: .long,
            help: "Wrap the image in an MCUboot container (header, SHA-256 TLV) for flashing over SMP (akrpctl config flash, smpmgr).")
        var mcuboot = false

        @Option(name: .long, help: "Version of the MCUboot container: MAJOR.MINOR.REVISION[+BUILD].")
        var version: String = "0.0.0"

        func validate() throws {
            guard MCUbootVersion.parse(version) != nil else {
                throw ValidationError("--version must be MAJOR.MINOR.REVISION[+BUILD] (0-255.0-255.0-65535), got '\(version)'")
            }
        }

        func run() throws {
            var image = ConfigurationImage.encode(try ConfigCommand.load(file))
            if mcuboot, let v = MCUbootVersion.parse(version) { image = MCUbootImage.build(payload: image, version: v) }
            do {
                try Data(image).write(to: URL(fileURLWithPath: output), options: .atomic)
            } catch {
                throw ConfigCommand.failure("cannot write \(output): \(error.localizedDescription)")
            }
            let digest = ConfigurationImage.sha256(image).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            if mcuboot, let parsed = try? MCUbootImage(parsing: image) {
                let hash = parsed.hash.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
                print("\(output): \(image.count) bytes, MCUboot container version \(parsed.versionString), image hash \(hash)")
            } else {
                print("\(output): \(image.count) bytes, image format \(ConfigurationImage.version), SHA-256 \(digest)")
            }
        }
    }

    /// `akrpctl config show FILE [--json]`.
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a configuration (text or image) as normalized text, or as JSON.",
            discussion: "The text has every setting written out and reads back to the same configuration.")

        @Argument(help: "The configuration file, text or image.")
        var file: String

        @Flag(name: .long, help: "Print a JSON object with every field instead of text.")
        var json = false

        func run() throws {
            let c = try ConfigCommand.load(file)
            print(json ? ConfigurationJSON.render(c) : ConfigurationText.render(c), terminator: "")
        }
    }

    /// The validated configuration in `path`, or exit with status 1 after printing why not.
    static func load(_ path: String) throws -> NodeConfiguration {
        do {
            return try NodeConfiguration.load(contentsOf: path)
        } catch {
            throw failure(error.description)
        }
    }

    /// Prints `message` on standard error; the exit status 1 to throw.
    static func failure(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
        return ExitCode.failure
    }
}

/// An MCUboot version as written on the command line: `MAJOR.MINOR.REVISION[+BUILD]`.
enum MCUbootVersion {
    static func parse(_ text: String) -> (UInt8, UInt8, UInt16, UInt32)? {
        let main = text.split(separator: "+", maxSplits: 1, omittingEmptySubsequences: false)
        let parts = main[0].split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let a = UInt8(parts[0]), let b = UInt8(parts[1]), let c = UInt16(parts[2]) else { return nil }
        var build: UInt32 = 0
        if main.count == 2 {
            guard let n = UInt32(main[1]) else { return nil }
            build = n
        }
        return (a, b, c, build)
    }
}
