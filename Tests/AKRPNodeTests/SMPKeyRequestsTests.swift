import AKRPEngine
import Testing

@testable import AKRPNode

/// The table of key requests made over SMP: bounded, failures read once and forgotten when their time is up.
@Suite struct SMPKeyRequestsTests {
    @Test func boundedAndFailuresForgotten() {
        var table = SMPKeyRequests(capacity: 3)
        let ids = (1...3).map { RequestID(source: NodeID(1), serial: UInt32($0)) }
        for id in ids {
            let room = table.makeRoom(now: 0)
            #expect(room)
            table.started(id)
        }
        let fourth = table.makeRoom(now: 0)
        #expect(!fourth, "a fourth request fitted into a table of three")
        table.failed(ids[0], reason: "timed out", until: 100)
        let early = table.makeRoom(now: 99)
        #expect(!early, "a failure was forgotten before its time")
        let due = table.makeRoom(now: 100)
        #expect(due, "a failure whose time is up still takes room")
        let forgotten = table.read(ids[0])
        #expect(forgotten == nil)

        table.failed(ids[1], reason: "no route", until: 1_000)
        guard case .failed(let reason, _)? = table.read(ids[1]) else {
            Issue.record("the failure is not read back")
            return
        }
        #expect(reason == "no route")
        let again = table.read(ids[1])
        #expect(again == nil, "a failure is read only once")

        guard case .waiting? = table.read(ids[2]) else {
            Issue.record("a waiting request is not waiting")
            return
        }
        let still = table.read(ids[2])
        #expect(still != nil, "reading a waiting request must not remove it")
        table.delivered(ids[2])
        let gone = table.read(ids[2])
        #expect(gone == nil)
    }

    @Test func requestIDParsing() {
        #expect(RequestID(parsing: "1:1048577") == RequestID(source: NodeID(1), serial: 1_048_577))
        for bad in ["0:1", "1:", ":1", "1:2:3", "x:1", "1:4294967296", "", "4294967296:1"] {
            #expect(RequestID(parsing: bad) == nil, "'\(bad)' parsed")
        }
    }
}
