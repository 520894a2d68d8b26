import AKRPConfig
import AKRPKeyDelivery
import AKRPNode
import ArgumentParser
import Logging
import Prometheus
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
            ProcessHardening.apply(logger: logger)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: NodeService(node: node), successTerminationBehavior: .gracefullyShutdownGroup)
        ]
        // MARK: key delivery (ETSI GS QKD 014): listed after the node so that it stops first
        if let delivery = c.keyDelivery {
            services.append(
                .init(
                    service: KeyDeliveryService(
                        node: node, settings: delivery, registry: PrometheusCollectorRegistry(), logger: logger),
                    successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
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

/// Keeps key bytes out of places they could leak to: no core dumps, and
/// memory locked so that pools and keys are never swapped to disk — where the system allows it
/// (`LimitMEMLOCK` in the systemd unit); otherwise the box runs and says so.
enum ProcessHardening {
    static func apply(logger: Logger) {
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        if setrlimit(Int32(RLIMIT_CORE.rawValue), &none) != 0 {
            logger.warning("cannot disable core dumps", metadata: ["errno": "\(errno)"])
        }
        // Lock future allocations too (keys in the store) only when no limit can make a later allocation
        // fail; with a finite LimitMEMLOCK what is allocated at start (pools, tables) is locked.
        var limit = rlimit()
        getrlimit(Int32(__RLIMIT_MEMLOCK.rawValue), &limit)
        // MCL_ONFAULT (Linux 4.4): lock pages as they are first touched instead of populating every
        // mapping at once (thread stacks, heap reservations); key memory is touched when it is written.
        let onFault: Int32 = 4
        let flags = limit.rlim_cur == rlim_t.max ? MCL_CURRENT | MCL_FUTURE : MCL_CURRENT
        if mlockall(Int32(flags) | onFault) != 0 && mlockall(Int32(flags)) != 0 {
            logger.notice(
                "memory not locked: key pools may be swapped out (raise LimitMEMLOCK or give CAP_IPC_LOCK)",
                metadata: ["error": "\(String(cString: strerror(errno)))"])
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
