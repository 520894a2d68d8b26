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
            KeyCommand.self, StatsCommand.self, DumpCommand.self,
        ]
    )
}
