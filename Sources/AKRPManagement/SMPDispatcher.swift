/// One decoded SMP request.
public struct SMPRequest: Sendable {
    /// The request's 8-byte header (operation, version, group, sequence, command).
    public var header: SMPHeader
    /// The body, a CBOR map (an empty body reads as an empty map).
    public var body: CBORValue

    /// The value of field `key`, or nil.
    public subscript(key: String) -> CBORValue? { body[key] }

    /// A request with `header` and `body` (a CBOR map).
    public init(header: SMPHeader, body: CBORValue) {
        self.header = header
        self.body = body
    }
}

/// What a command handler answers.
public enum SMPOutcome: Sendable {
    /// Success: these fields form the answer's map.
    case answer([(String, CBORValue)])
    /// An SMP error (the request could not be served at all): `{rc}`.
    case error(SMPReturnCode)
    /// A group error (version 2): `{err: {group, rc}}` with the group's own code; version-1 clients get `{rc}`.
    case groupError(UInt16)
}

/// A command handler; runs wherever the dispatcher runs (the box's event loop).
public typealias SMPHandler = (SMPRequest) -> SMPOutcome

/// Why the dispatcher answered nothing (the packet is dropped).
public enum SMPDrop: Error, Sendable, Equatable, CustomStringConvertible {
    /// Fewer than 8 bytes.
    case shortPacket(Int)
    /// A response operation sent to the server.
    case responseReceived

    /// A one-line English message saying why the packet was dropped.
    public var description: String {
        switch self {
        case .shortPacket(let n): "packet of \(n) bytes is shorter than the SMP header"
        case .responseReceived: "a response operation was sent to the server"
        }
    }
}

/// Counters of one dispatcher, for the statistics group.
public struct SMPDispatcherCounters: Sendable, Equatable {
    /// Packets handed to ``SMPDispatcher/handle(_:)``, answered or not.
    public var requests: UInt64 = 0
    /// Answers carrying a handler's fields (success).
    public var answered: UInt64 = 0
    /// Answers carrying an SMP return code or a group error.
    public var errors: UInt64 = 0
    /// Packets answered with nothing: shorter than the header, or a response operation.
    public var dropped: UInt64 = 0
    /// Requests whose length field disagrees with the packet, or whose body is not a decodable CBOR map.
    public var malformedBodies: UInt64 = 0
    /// Requests with no handler for their group, command and operation (answered `notSupported`).
    public var unknownCommands: UInt64 = 0
    /// All counters at zero.
    public init() {}
}

/// The transport-independent SMP server: walks a packet's header, decodes the CBOR body within limits,
/// finds the handler of `(group, command, operation)` and encodes the answer with operation + 1, the
/// same group, sequence and command, and version min(request, 2). Sans-I/O: packets in, packets out.
public final class SMPDispatcher {
    struct Key: Hashable {
        var group: UInt16
        var command: UInt8
        var write: Bool
    }

    private var handlers: [Key: SMPHandler] = [:]
    /// Largest answer (header and body) this server sends; larger answers become `messageTooLarge`.
    public let maximumAnswerSize: Int
    /// Limits the CBOR decoder enforces on request bodies; a body beyond them is answered `invalidValue`.
    public let limits: CBORLimits
    /// What this dispatcher has handled since it was made (the `smp` statistics group).
    public private(set) var counters = SMPDispatcherCounters()

    /// A dispatcher with no handlers; answers are at most `maximumAnswerSize` bytes, bodies are decoded
    /// within `limits`.
    public init(maximumAnswerSize: Int = 8192, limits: CBORLimits = .smp) {
        self.maximumAnswerSize = maximumAnswerSize
        self.limits = limits
    }

    /// Registers the handler of read requests (`read`) and/or write requests (`write`) of one command.
    public func register(group: UInt16, command: UInt8, read: SMPHandler? = nil, write: SMPHandler? = nil) {
        if let read { handlers[Key(group: group, command: command, write: false)] = read }
        if let write { handlers[Key(group: group, command: command, write: true)] = write }
    }

    /// The answer to one packet, or why it is dropped.
    public func handle(_ packet: [UInt8]) -> Result<[UInt8], SMPDrop> {
        counters.requests += 1
        guard let header = SMPHeader(packet) else {
            counters.dropped += 1
            if packet.count < SMPHeader.size { return .failure(.shortPacket(packet.count)) }
            return .failure(.responseReceived)  // operations 4…7 do not exist; treated like a stray response
        }
        guard let responseOperation = header.operation.response else {
            counters.dropped += 1
            return .failure(.responseReceived)
        }
        let version = min(header.version, 1)
        func reply(_ outcome: SMPOutcome) -> [UInt8] {
            let fields: [(String, CBORValue)]
            switch outcome {
            case .answer(let f):
                fields = f
                counters.answered += 1
            case .error(let rc):
                fields = [("rc", .unsigned(UInt64(rc.rawValue)))]
                counters.errors += 1
            case .groupError(let rc):
                counters.errors += 1
                fields =
                    version >= 1
                    ? [("err", .object([("group", .unsigned(UInt64(header.group))), ("rc", .unsigned(UInt64(rc)))]))]
                    : [("rc", .unsigned(UInt64(rc)))]
            }
            let capacity = maximumAnswerSize - SMPHeader.size
            let body: [UInt8]
            do throws(CBORError) {
                body = try CBOREncoder.encode(.object(fields), capacity: min(capacity, Int(UInt16.max)))
            } catch {
                // The only failure is an answer too large for the buffer.
                body = (try? CBOREncoder.encode(.object([("rc", .unsigned(UInt64(SMPReturnCode.messageTooLarge.rawValue)))]))) ?? []
            }
            var h = header
            h.operation = responseOperation
            h.version = version
            h.length = UInt16(body.count)
            return h.bytes + body
        }
        if header.version > 1 { return .success(reply(.error(.protocolTooNew))) }
        guard Int(header.length) == packet.count - SMPHeader.size else {
            counters.malformedBodies += 1
            return .success(reply(.error(.invalidValue)))
        }
        let body: CBORValue
        if header.length == 0 {
            body = .map([])
        } else {
            do throws(CBORError) {
                body = try CBORDecoder.decode(Array(packet[SMPHeader.size...]), limits: limits)
            } catch {
                counters.malformedBodies += 1
                return .success(reply(.error(.invalidValue)))
            }
        }
        guard case .map = body else {
            counters.malformedBodies += 1
            return .success(reply(.error(.invalidValue)))
        }
        let key = Key(group: header.group, command: header.command, write: header.operation == .write)
        guard let handler = handlers[key] else {
            counters.unknownCommands += 1
            return .success(reply(.error(.notSupported)))
        }
        return .success(reply(handler(SMPRequest(header: header, body: body))))
    }
}
