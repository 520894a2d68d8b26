import AKRPConfig
import AKRPEngine
import AKRPKeySource
import AKRPNode
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS

/// One HTTPS connection of an SAE: reads HTTP/1.1 requests (body bounded), identifies the SAE from its
/// client certificate once per connection, answers the ETSI GS QKD 014 API, and keeps the connection
/// alive between requests. Runs on the HTTP event loop; the key stocks are reached through
/// ``KeyDeliveryCore`` on the node's loop.
final class ETSIChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let core: KeyDeliveryCore
    let limits: ETSIRequest.Limits
    let requestTimeout: TimeAmount
    let kmeNames: [NodeID: String]
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var bodyTooLarge = false
    private var identity: SAERegistration?
    private var identityError: ETSIError?
    private var busy = false
    private var started: NIODeadline = .now()
    private var deadline: Scheduled<Void>?
    /// A refused handshake is counted once per connection (BoringSSL may report several errors).
    private var handshakeFailureCounted = false
    private var handshakeDone = false

    init(core: KeyDeliveryCore, limits: ETSIRequest.Limits, requestTimeout: TimeAmount, kmeNames: [NodeID: String]) {
        self.core = core
        self.limits = limits
        self.requestTimeout = requestTimeout
        self.kmeNames = kmeNames
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            handshakeDone = true
            // Unknown or revoked certificates are refused as soon as the handshake ends, before any request.
            if case .failure = identify(context: context) {
                countHandshakeFailure()
                context.close(promise: nil)
                return
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Errors after the handshake (a client leaving without close_notify) are no handshake failures.
        if !handshakeDone && (error is NIOSSLError || error is BoringSSLError) { countHandshakeFailure() }
        context.close(promise: nil)
    }

    private func countHandshakeFailure() {
        guard !handshakeFailureCounted else { return }
        handshakeFailureCounted = true
        core.metrics.handshakeFailures.increment()
    }

    func channelActive(context: ChannelHandlerContext) {
        armDeadline(context: context)
        context.fireChannelActive()
    }

    /// A connection must complete its TLS handshake and each request within `requestTimeout` of being
    /// opened or of its previous answer (slow or idle clients are cut off; a request waiting for key is not).
    private func armDeadline(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: requestTimeout) { [weak self] in
            self?.deadline = nil
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        body.removeAll()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body.removeAll(keepingCapacity: true)
            bodyTooLarge = false
            started = .now()
        case .body(var chunk):
            if body.count + chunk.readableBytes > limits.maxBodyBytes {
                bodyTooLarge = true
                body.removeAll()
            } else if !bodyTooLarge, let bytes = chunk.readBytes(length: chunk.readableBytes) {
                body.append(contentsOf: bytes)
            }
        case .end:
            deadline?.cancel()
            deadline = nil
            guard let h = head else { return }
            head = nil
            if bodyTooLarge {
                answer(context: context, head: h, .failure(ETSIError(413, "request body too large", [("limit_bytes", "\(limits.maxBodyBytes)")])), close: true)
                return
            }
            handle(context: context, head: h)
        }
    }

    private func identify(context: ChannelHandlerContext) -> Result<SAERegistration, ETSIError> {
        if let identity { return .success(identity) }
        if let identityError { return .failure(identityError) }
        let certificate: NIOSSLCertificate?
        do {
            certificate = try context.pipeline.syncOperations.nioSSL_peerCertificate()
        } catch {
            certificate = nil
        }
        guard let certificate, let der = try? certificate.toDERBytes() else {
            identityError = ETSIError(401, "no client certificate")
            return .failure(identityError!)
        }
        let subject = SAEDirectory.subjectText(certificate.subjectName.map { (type: Self.shortName($0.type), value: $0.value) })
        do throws(ETSIError) {
            let sae = try core.directory.identify(fingerprint: SHA256.hash(der), subject: subject)
            identity = sae
            return .success(sae)
        } catch {
            identityError = error
            return .failure(error)
        }
    }

    static func shortName(_ t: SSLCertificateNameType) -> String {
        switch t {
        case .commonName: "CN"
        case .organization: "O"
        case .organizationalUnit: "OU"
        case .country: "C"
        case .state: "ST"
        case .city: "L"
        case .emailAddress: "emailAddress"
        case .userId: "UID"
        default: "?"
        }
    }

    private func operation(_ r: ETSIRequest) -> String {
        switch r {
        case .status: "status"
        case .encKeys: "enc_keys"
        case .decKeys: "dec_keys"
        }
    }

    private func handle(context: ChannelHandlerContext, head h: HTTPRequestHead) {
        let request: ETSIRequest
        do throws(ETSIError) {
            request = try ETSIRequest.parse(method: h.method.rawValue, uri: h.uri, body: body, limits: limits)
        } catch {
            body.removeAll(keepingCapacity: true)
            answer(context: context, head: h, .failure(error), close: false)
            return
        }
        body.removeAll(keepingCapacity: true)
        let caller: SAERegistration
        switch identify(context: context) {
        case .success(let s): caller = s
        case .failure(let e):
            answer(context: context, head: h, .failure(e), close: false)
            return
        }
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let op = operation(request)
        switch request {
        case .status(let slaveID):
            let slave: SAERegistration
            do throws(ETSIError) { slave = try core.directory.slave(slaveID, for: caller) } catch {
                answer(context: context, head: h, .failure(error), close: false, operation: op)
                return
            }
            let settings = core.settings
            let names = kmeNames
            let here = core.directory.node
            let maxKeyCount = core.maxKeyCount
            core.storedKeyCount(master: caller, slave: slave) { count in
                loop.execute {
                    let (handler, context) = bound.value
                    let json = ETSIResponse.status(
                        sourceKME: names[here] ?? "\(here.rawValue)", targetKME: names[slave.node] ?? "\(slave.node.rawValue)",
                        master: caller.id, slave: slave.id, keySize: settings.defaultKeySize, storedKeyCount: count,
                        maxKeyCount: maxKeyCount, maxKeyPerRequest: settings.maxKeysPerRequest, maxKeySize: settings.maxKeySize,
                        minKeySize: settings.minKeySize)
                    handler.answer(context: context, head: h, .success(Array(json.utf8)), close: false, operation: op)
                }
            }
        case .encKeys(let slaveID, let number, let size):
            let slave: SAERegistration
            do throws(ETSIError) { slave = try core.directory.slave(slaveID, for: caller) } catch {
                answer(context: context, head: h, .failure(error), close: false, operation: op)
                return
            }
            core.encKeys(master: caller, slave: slave, number: number, size: size) { result in
                loop.execute {
                    let (handler, context) = bound.value
                    handler.answerKeys(context: context, head: h, result, operation: op)
                }
            }
        case .decKeys(let masterID, let ids):
            let master: SAERegistration
            do throws(ETSIError) { master = try core.directory.master(masterID, for: caller) } catch {
                answer(context: context, head: h, .failure(error), close: false, operation: op)
                return
            }
            core.decKeys(master: master, slave: caller, ids: ids) { result in
                loop.execute {
                    let (handler, context) = bound.value
                    handler.answerKeys(context: context, head: h, result, operation: op)
                }
            }
        }
    }

    private func answerKeys(context: ChannelHandlerContext, head h: HTTPRequestHead, _ result: Result<[DeliveredKey], ETSIError>, operation: String) {
        switch result {
        case .success(let keys):
            var json = ETSIResponse.keyContainer(keys)
            if operation == "enc_keys" { core.metrics.encKeys.increment(by: keys.count) } else { core.metrics.decKeys.increment(by: keys.count) }
            answer(context: context, head: h, .success(json), close: false, operation: operation, secret: true)
            json.withUnsafeMutableBytes { wipe($0) }
        case .failure(let e):
            answer(context: context, head: h, .failure(e), close: false, operation: operation)
        }
    }

    /// Writes one response; `secret`: the body holds key bytes, and the buffer is wiped once written.
    private func answer(
        context: ChannelHandlerContext, head h: HTTPRequestHead, _ result: Result<[UInt8], ETSIError>, close: Bool,
        operation: String = "other", secret: Bool = false
    ) {
        guard context.channel.isActive else { return }
        let status: HTTPResponseStatus
        let bytes: [UInt8]
        switch result {
        case .success(let b):
            status = .ok
            bytes = b
        case .failure(let e):
            status = HTTPResponseStatus(statusCode: e.status)
            bytes = Array(e.json.utf8)
            core.metrics.refused(e.reason)
        }
        let keepAlive = h.isKeepAlive && !close
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: "\(bytes.count)")
        headers.add(name: "Cache-Control", value: "no-store")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: status, headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        core.metrics.latency(operation, nanoseconds: Int64(NIODeadline.now().uptimeNanoseconds &- started.uptimeNanoseconds))
        let channel = context.channel
        done.futureResult.assumeIsolated().whenComplete { [weak self] _ in
            if keepAlive, channel.isActive { self?.armDeadline(context: context) }
            if secret {
                // Ours is the only reference left: the TLS layer has encrypted and released it.
                buffer.withUnsafeMutableReadableBytes { wipe($0) }
            }
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}
