import ArgumentParser

/// `akrpctl`: the relay box companion tool. Each area of the product adds its subcommands here.
@main
struct AKRPCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "akrpctl",
        abstract: "Companion tool for AKRP relay boxes: QKD devices, frames, state and statistics.",
        subcommands: [
            DecodeCommand.self,
            DevicesCommand.self, DeviceCommand.self,
            ConfigCommand.self,
            KeyCommand.self, StatsCommand.self, DumpCommand.self, LoadCommand.self,
            EchoCommand.self, ResetCommand.self,
        ]
    )

    /// Options that name the box (`--socket`, `--timeout`, `--smp-socket`, `--smp-timeout`, `--port`, `--udp`) may come before the subcommand, as in
    /// `akrpctl --socket /run/akrpd/control.sock stats`; they belong to the subcommands, so they are
    /// moved behind the subcommand's name before parsing.
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        var leading: [String] = []
        while let first = arguments.first, ["--socket", "--timeout", "--smp-socket", "--smp-timeout", "--port", "--udp"].contains(where: { first == $0 || first.hasPrefix($0 + "=") }) {
            leading.append(arguments.removeFirst())
            if !first.contains("="), !arguments.isEmpty { leading.append(arguments.removeFirst()) }
        }
        arguments += leading
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
