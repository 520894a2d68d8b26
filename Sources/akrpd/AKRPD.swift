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
        var c: NodeConfiguration
        do {
            c = try NodeConfiguration.load(contentsOf: config)
        } catch {
            FileHandleStandardError.write("akrpd: \(error)\n")
            throw ExitCode(1)
        }
        // Management (issue 10): a configuration flashed over SMP runs instead of the file (docs/MANAGEMENT.md).
        var boot = ConfigurationSlots.Boot.file
        var slots: ConfigurationSlots?
        if !check {
            do {
                let s = try ConfigurationSlots(stateDirectory: c.stateDirectory)
                boot = try s.boot()
                switch boot {
                case .file: break
                case .active(let slot), .trial(let slot):
                    if let (flashed, _) = s.configuration(slot) { c = flashed }
                }
                slots = s
            } catch {
                FileHandleStandardError.write("akrpd: configuration slots: \(error)\n")
                throw ExitCode(1)
            }
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
            if case .trial = boot { Restart.exec(logger: logger, reason: "the configuration on trial cannot start: rolling back") }
            throw ExitCode(1)
        }
        if let slots { node.setBoot(boot, slots: slots) }
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
            if case .trial = boot { Restart.exec(logger: logger, reason: "the configuration on trial failed: rolling back") }
            throw ExitCode(1)
        }
        if node.restartRequested { Restart.exec(logger: logger, reason: "restart requested") }
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

/// A graceful restart: the daemon executes itself again with the same arguments (the start decides which
/// configuration slot runs). Descriptors other than the standard ones are closed on exec.
enum Restart {
    static func exec(logger: Logger, reason: String) -> Never {
        logger.notice("executing akrpd again", metadata: ["reason": "\(reason)"])
        if let dir = opendir("/proc/self/fd") {
            var fds: [Int32] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if let fd = Int32(name), fd > 2 { fds.append(fd) }
            }
            closedir(dir)
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        let arguments = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", &argv)
        logger.critical("cannot execute akrpd again", metadata: ["errno": "\(errno)"])
        exit(1)
    }
}
