import AKRPConfig
import AKRPNode
import ArgumentParser
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// `akrpd`: the AKRP relay daemon of one box.
@main
struct AKRPD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "akrpd",
        abstract: "The AKRP relay daemon: runs one relay box from its configuration (docs/CONFIG.md).",
        discussion: """
            Reads the configuration (text or compiled image), makes its incarnation durable in the state \
            directory, feeds every link's key source into the engine, connects to the neighbours, and serves \
            the control socket for akrpctl. SIGTERM or SIGINT stops it gracefully. Operations guide: \
            docs/OPERATIONS.md.
            """)

    @Option(name: .long, help: "Configuration file: the text format or a compiled image.")
    var config: String

    @Flag(name: .long, help: "Check the configuration and exit (status 0 when valid).")
    var check = false

    func run() async throws {
        let c: NodeConfiguration
        do {
            c = try NodeConfiguration.load(contentsOf: config)
        } catch {
            FileHandleStandardError.write("akrpd: \(error)\n")
            throw ExitCode(1)
        }
        if check {
            print("\(config): valid (node \(c.node.rawValue) '\(c.name)', \(c.neighbours.count) neighbours, \(c.topology.links.count) links)")
            return
        }
        let level = Logger.Level(rawValue: c.logLevel) ?? .info
        LoggingSystem.bootstrap { label in JournalLogHandler(label: label, level: level) }
        let logger = Logger(label: "akrpd")
        let node: RelayNode
        do {
            node = try RelayNode(configuration: c, logger: logger)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: NodeService(node: node), successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch {
            logger.critical("stopped on error: \(error)")
            throw ExitCode(1)
        }
    }
}

/// Writes to standard error without Foundation.
enum FileHandleStandardError {
    static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in _ = Glibc.write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
    }
}
