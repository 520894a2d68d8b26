import AKRPEngine
import AKRPWire

#if canImport(Glibc)
import Glibc
#endif

/// The control socket's path: its directory is made if missing, the socket is made group-accessible
/// (mode 0660: the box's operators' group, no one else).
enum ControlSocketPath {
    static func prepare(_ path: String) throws {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        let directory = String(path[..<slash])
        var prefix = directory.hasPrefix("/") ? "" : "."
        for part in directory.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o750) != 0 && errno != EEXIST {
                throw StateStoreError.system(path: prefix, call: "mkdir", code: errno)
            }
        }
    }

    static func restrict(_ path: String) throws {
        guard chmod(path, 0o660) == 0 else { throw StateStoreError.system(path: path, call: "chmod", code: errno) }
    }
}

extension RelayNode {
    func controlConnected(_ handler: ControlChannelHandler) {
        controlConnections[ObjectIdentifier(handler)] = handler
        counters.controlConnections += 1
    }

    func controlDisconnected(_ handler: ControlChannelHandler) {
        controlConnections[ObjectIdentifier(handler)] = nil
        handler.dump = []
    }

    func controlGarbage(_ handler: ControlChannelHandler, error: WireError) {
        counters.controlFramesBad += 1
        logger.notice("control client sent a malformed frame; disconnected", metadata: ["error": "\(error)"])
    }

    /// One decoded control frame.
    func control(_ decoded: DecodedControl, frame: UnsafeRawBufferPointer, from client: ControlChannelHandler) {
        let m = decoded.message
        switch m.kind {
        case .keyRequest:
            requestKey(destination: m.destination, bytes: Int(m.keyLength), correlation: m.correlation, client: client)
        case .keyFetchRequest:
            let key = keys.take(m.request)
            if key != nil { counters.keysFetched += 1 } else { counters.keysUnknown += 1 }
            client.sendKeyResponse(
                correlation: m.correlation, status: KeyResponseStatus.unknownKey.rawValue, request: m.request, key: key)
        case .statisticsRequest:
            client.send(statistics(page: Int(m.page), correlation: m.correlation))
        case .stateDumpRequest:
            if m.offset == 0 || client.dump.isEmpty { client.dump = stateDump() }
            var r = ControlMessage(kind: .stateDumpResponse, from: configuration.node, correlation: m.correlation)
            let total = client.dump.count
            let offset = min(Int(m.offset), total)
            let n = min(ControlMessage.maximumDataLength, total - offset)
            r.offset = UInt32(offset)
            r.totalLength = UInt32(total)
            r.dataLength = UInt16(n)
            client.dump.withUnsafeBytes { client.send(r, data: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)])) }
        case .configurationChunk:
            // Flashing the configuration is the management interface's job (SMP image group).
            var r = ControlMessage(kind: .configurationAck, from: configuration.node, correlation: m.correlation)
            r.status = ConfigurationStatus.rejected.rawValue
            client.send(r)
        case .stateDumpResponse, .statisticsResponse, .keyResponse, .configurationAck, .peerPosition:
            counters.controlFramesBad += 1
            client.close()
        }
    }

    /// Starts an end-to-end key request for a control client: `bytes` rounded up to whole key units.
    func requestKey(destination: NodeID, bytes: Int, correlation: UInt64, client: ControlChannelHandler) {
        let request = RequestID.none
        guard !shuttingDown, !stopped else {
            client.sendKeyResponse(correlation: correlation, status: KeyResponseStatus.shuttingDown.rawValue, request: request, key: nil)
            return
        }
        let unitSize = configuration.engine.unitSize
        let units = (bytes + unitSize - 1) / unitSize
        guard bytes >= 1, units <= configuration.engine.maxRequestUnits else {
            counters.requestsRefused += 1
            client.sendKeyResponse(correlation: correlation, status: KeyResponseStatus.refused.rawValue, request: request, key: nil)
            return
        }
        let now = clock.now()
        let id: RequestID
        do throws(RequestError) {
            // A client waits for the answer: the destination's confirmation comes back at once.
            id = try engine.request(
                destination: destination, units: units, now: now, outbox: outbox, awaitingConfirmation: true)
        } catch {
            counters.requestsRefused += 1
            let status: UInt8 =
                switch error {
                case .noRoute: FailReason.noRoute.rawValue
                case .tableFull: FailReason.tableFull.rawValue
                default: KeyResponseStatus.refused.rawValue
                }
            client.sendKeyResponse(correlation: correlation, status: status, request: request, key: nil)
            return
        }
        counters.requestsAccepted += 1
        pendingRequests[id] = PendingRequest(
            client: client, correlation: correlation, keyLength: units * unitSize,
            deadline: now &+ configuration.keyStore.requestTimeout)
        finishStep(now: now)
    }

    /// One page of per-link statistics with the box totals.
    func statistics(page: Int, correlation: UInt64) -> ControlMessage {
        var r = ControlMessage(kind: .statisticsResponse, from: configuration.node, correlation: correlation)
        let neighbours = engine.neighbours
        let perPage = ControlMessage.maximumLinks
        let pages = max(1, (neighbours.count + perPage - 1) / perPage)
        let p = min(page, pages - 1)
        r.page = UInt16(p)
        r.pageCount = UInt16(pages)
        let unitSize = UInt64(configuration.engine.unitSize)
        r.totals.deliveredKeys = counters.keysDeliveredAsSource + counters.keysDeliveredAsDestination
        r.totals.deliveredKeyBytes = counters.keyBytesDelivered
        r.totals.failedRequests = engine.counters.requestsFailed
        r.totals.authenticationBytes =
            (engine.counters.authenticationUnitsSent + engine.counters.authenticationUnitsReceived) * unitSize
        for n in neighbours.dropFirst(p * perPage).prefix(perPage) {
            guard let pool = engine.pool(toward: n) else { continue }
            let peer = peers[n]
            let authentication = (peer?.counters.authenticationUnitsSent ?? 0) + (peer?.counters.authenticationUnitsReceived ?? 0)
            try? r.appendLink(
                LinkStatistics(
                    link: LinkID(configuration.node, n), availableUnits: UInt64(pool.availableDelivered),
                    reservedUnits: UInt64(pool.heldUnits), consumedUnits: pool.consumedUnits,
                    discardedUnits: pool.discardedUnits, authenticationBytes: authentication * unitSize))
        }
        return r
    }
}
