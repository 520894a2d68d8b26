import AKRPConfig
import AKRPEngine
import AKRPManagement
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Counters of the management transports (the dispatcher counts the packets themselves).
struct ManagementCounters {
    var oversized: UInt64 = 0
    var serialDrops: UInt64 = 0
    var transportErrors: UInt64 = 0
    var uploads: UInt64 = 0
    var uploadsRefused: UInt64 = 0
}

/// The box's SMP server (docs/MANAGEMENT.md): one ``SMPDispatcher`` on the node's event loop, fed by three
/// transports — a Unix socket (mode 0660) for `akrpctl` on the box, UDP (loopback by default) and a
/// serial line (the USB gadget's tty). Every handler runs on the loop, like every other input of the box;
/// that confinement (channels and timers of the node's one loop) is why the class is `@unchecked Sendable`.
final class ManagementServer: @unchecked Sendable {
    /// Largest SMP packet accepted or sent (header and body): MCUmgr's `buf_size`.
    static let maximumPacketSize = 4096
    /// Buffers the server can hold at once (`buf_count`): one packet per transport in flight.
    static let bufferCount = 3

    unowned let node: RelayNode
    let dispatcher = SMPDispatcher(maximumAnswerSize: ManagementServer.maximumPacketSize)
    var counters = ManagementCounters()
    var upload = ImageUpload(maximumLength: ConfigurationImage.maximumBodySize + 65536)
    var slots: ConfigurationSlots? {
        didSet { journal = slots.map { UploadJournal(directory: $0.directory) } }
    }
    /// The upload in progress on disk (in the slot directory).
    var journal: UploadJournal?
    var boot: ConfigurationSlots.Boot = .file
    /// Settings written but not yet committed (settings group).
    var stagedSettings: [String: UInt64] = [:]
    var socketListener: (any Channel)?
    var udpChannel: (any Channel)?
    var serialChannel: (any Channel)?
    var serialKeepOpen: Int32?
    var confirmCheck: RepeatedTask?
    var socketPath = ""
    /// The state dump being read in chunks (AKRP group), made at offset 0.
    var dump: [UInt8] = []
    /// The transport of the packet being handled (`socket`, `udp`, `serial`), nil between packets:
    /// the key commands answer only on the Unix socket.
    private(set) var currentTransport: String?
    /// The copy of a key that a key-get answer carries; wiped as soon as the answer is encoded.
    var secretScratch: [UInt8] = []
    /// Key requests made over SMP whose outcome has not been read (AKRP group, commands 1 and 2).
    var keyRequests = SMPKeyRequests(capacity: 256)

    init(node: RelayNode) { self.node = node }

    /// The answer to one packet from `transport`, nil when it is dropped.
    /// The caller wipes the answer once it is written (it may carry a key).
    func handle(_ packet: [UInt8], via transport: String) -> [UInt8]? {
        currentTransport = transport
        defer {
            currentTransport = nil
            // The dispatcher has let go of the answer's fields: this array is the only reference left.
            secretScratch.withUnsafeMutableBytes { wipe($0) }
            secretScratch = []
        }
        switch dispatcher.handle(packet) {
        case .success(let answer): return answer
        case .failure(let why):
            node.logger.debug("SMP packet dropped", metadata: ["transport": "\(transport)", "reason": "\(why)"])
            return nil
        }
    }

    /// Binds the configured listeners. A listener written in the configuration that cannot be bound stops
    /// the box; the default UDP listener only logs a warning (another box on the same host may hold it).
    func start() async throws(NodeStartError) {
        let settings = node.configuration.management
        let group = node.group
        socketPath = settings.socketPath(controlSocket: node.configuration.controlSocket)
        do {
            try ControlSocketPath.prepare(socketPath)
            socketListener = try await ServerBootstrap(group: group)
                .childChannelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(SMPStreamHandler(server: self))
                    }
                }
                .bind(unixDomainSocketPath: socketPath, cleanupExistingSocketFile: true).get()
            try ControlSocketPath.restrict(socketPath)
        } catch {
            throw .listen(what: "SMP (Unix socket)", address: socketPath, reason: "\(error)")
        }
        if let udp = settings.udp {
            do {
                udpChannel = try await DatagramBootstrap(group: group)
                    // Room for any datagram, so that an oversized one is seen whole and dropped, not cut.
                    .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65536))
                    .channelInitializer { [self] channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(SMPDatagramHandler(server: self))
                        }
                    }
                    .bind(host: udp.host, port: Int(udp.port)).get()
            } catch {
                if settings.udpConfigured {
                    throw .listen(what: "SMP (UDP)", address: udp.description, reason: "\(error)")
                }
                node.logger.warning("SMP over UDP not served", metadata: ["address": "\(udp)", "error": "\(error)"])
            }
        }
        if !settings.serial.isEmpty {
            let opened: SerialPort.Opened
            do throws(SerialPort.Failure) { opened = try SerialPort.open(settings.serial) } catch {
                throw .listen(what: "SMP (serial)", address: settings.serial, reason: "\(error)")
            }
            serialKeepOpen = opened.keepOpen
            do {
                serialChannel = try await NIOPipeBootstrap(group: group)
                    .channelInitializer { [self] channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(SMPSerialHandler(server: self))
                        }
                    }
                    .takingOwnershipOfDescriptor(inputOutput: opened.fd).get()
            } catch {
                close(opened.fd)
                throw .listen(what: "SMP (serial)", address: settings.serial, reason: "\(error)")
            }
            node.logger.info("SMP serial line open", metadata: ["tty": "\(opened.description)"])
        }
        node.logger.info(
            "management (SMP) listening",
            metadata: [
                "socket": "\(socketPath)", "udp": "\(udpChannel?.localAddress?.description ?? "off")",
                "serial": "\(settings.serial.isEmpty ? "off" : settings.serial)",
            ])
    }

    /// Closes every listener (on the loop).
    func stop() {
        confirmCheck?.cancel()
        confirmCheck = nil
        socketListener?.close(promise: nil)
        udpChannel?.close(promise: nil)
        serialChannel?.close(promise: nil)
        if let fd = serialKeepOpen {
            close(fd)
            serialKeepOpen = nil
        }
        let serial = node.configuration.management.serial
        if serial.hasPrefix("pty:") { unlink(String(serial.dropFirst(4))) }
    }

    /// The UDP port bound (port 0 in tests).
    var udpPort: Int? { udpChannel?.localAddress?.port }
}
