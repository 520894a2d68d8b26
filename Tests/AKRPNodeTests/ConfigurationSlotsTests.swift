import AKRPConfig
import AKRPEngine
import AKRPManagement
import Foundation
import Testing

@testable import AKRPNode

/// The boot rules of the configuration slots (MCUboot's test / confirm / revert), on real files.
@Suite("Configuration slots: test, confirm, revert")
struct ConfigurationSlotsTests {
    static func container(node: UInt32, stateDirectory: String, capacity: Int) -> [UInt8] {
        var c = NodeConfiguration(
            node: NodeID(node), listen: NetworkAddress(host: "127.0.0.1", port: 7400), controlSocket: "/tmp/c.sock",
            stateDirectory: stateDirectory,
            topology: TopologyDescription(
                nodes: [.init(id: NodeID(1), name: "a"), .init(id: NodeID(2), name: "b")],
                links: [.init(a: NodeID(1), b: NodeID(2), bitsPerSecond: 1_000_000, delay: 1_000_000)]),
            neighbours: [
                NeighbourConfiguration(
                    node: NodeID(node == 1 ? 2 : 1), address: NetworkAddress(host: "127.0.0.1", port: 7401),
                    source: .simulated(seed: 1, epoch: 0, bitsPerSecond: 1_000_000, blockPeriod: 0, jitter: 0))
            ])
        c.keyStore.capacity = capacity
        return MCUbootImage.build(payload: ConfigurationImage.encode(c), version: (1, 0, UInt16(capacity), 0))
    }

    @Test("a pending slot runs once as a trial; unconfirmed, the next start reverts")
    func trialThenRevert() throws {
        let dir = temporaryDirectory("slots-revert")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let slots = try ConfigurationSlots(stateDirectory: dir)
        #expect(try slots.boot() == .file)
        try slots.store(Self.container(node: 1, stateDirectory: dir, capacity: 100), in: .a)
        var r = slots.record
        r.pending = .a
        try slots.write(r)
        // The decision is durable: a new reader sees the trial.
        #expect(try ConfigurationSlots(stateDirectory: dir).boot() == .trial(.a))
        #expect(try ConfigurationSlots(stateDirectory: dir).record.trial == .a)
        // Not confirmed: the next start drops it.
        #expect(try ConfigurationSlots(stateDirectory: dir).boot() == .file)
    }

    @Test("a confirmed trial stays active; a permanent mark skips the trial; a damaged slot is never run")
    func confirmPermanentDamaged() throws {
        let dir = temporaryDirectory("slots-confirm")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let slots = try ConfigurationSlots(stateDirectory: dir)
        try slots.store(Self.container(node: 1, stateDirectory: dir, capacity: 100), in: .a)
        var r = slots.record
        r.pending = .a
        try slots.write(r)
        #expect(try slots.boot() == .trial(.a))
        r = slots.record
        r.active = .a
        r.trial = nil
        try slots.write(r)
        #expect(try ConfigurationSlots(stateDirectory: dir).boot() == .active(.a))
        #expect(try ConfigurationSlots(stateDirectory: dir).configuration(.a)?.0.keyStore.capacity == 100)
        // Permanent: active at once.
        let again = try ConfigurationSlots(stateDirectory: dir)
        try again.store(Self.container(node: 1, stateDirectory: dir, capacity: 200), in: .b)
        r = again.record
        r.pending = .b
        r.permanent = true
        try again.write(r)
        #expect(try ConfigurationSlots(stateDirectory: dir).boot() == .active(.b))
        // A damaged pending slot is not started: the active one runs.
        let third = try ConfigurationSlots(stateDirectory: dir)
        var bytes = Self.container(node: 1, stateDirectory: dir, capacity: 300)
        bytes[40] ^= 0xFF
        try third.store(bytes, in: .a)
        r = third.record
        r.pending = .a
        try third.write(r)
        #expect(try ConfigurationSlots(stateDirectory: dir).boot() == .active(.b))
        // No temporary files are left behind.
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/config")
        #expect(!files.contains { $0.hasSuffix(".tmp") })
    }
}
