import AKRPDevice
import AKRPEngine
import AKRPKeySource
import Foundation
import Testing

/// The control socket of Hardware/emulator/qkd_emulator.py, set when the tests run under it.
let emulatorSocket = ProcessInfo.processInfo.environment["AKRP_EMULATOR_SOCKET"]

/// Device tests need the USB emulator (tools/test-devices runs them under it). A plain
/// `swift test` skips them, and says so through this condition's comment.
let underEmulator = emulatorSocket != nil

/// A line-based client for the emulator's control socket.
enum Emulator {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Sends one command and returns the text after "ok".
    @discardableResult
    static func send(_ command: String) throws -> String {
        guard let path = emulatorSocket else { throw Failure(description: "no emulator") }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes + [0])
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { throw Failure(description: "connect to emulator failed") }
        let line = Array((command + "\n").utf8)
        guard write(fd, line, line.count) == line.count else { throw Failure(description: "write failed") }
        var reply: [UInt8] = []
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1, byte != 10 { reply.append(byte) }
        let text = String(decoding: reply, as: UTF8.self)
        guard text.hasPrefix("ok") else { throw Failure(description: "emulator: \(text)") }
        return String(text.dropFirst(2)).trimmingCharacters(in: .whitespaces)
    }

    /// Creates a link of two emulated devices; returns their serials (low end first).
    static func addLink(_ low: UInt32, _ high: UInt32, bitsPerSecond: UInt64 = 40_000_000, seed: UInt64 = 1) throws
        -> (String, String)
    {
        let serials = try send("add-link \(low) \(high) \(bitsPerSecond) \(seed)").split(separator: " ").map(String.init)
        guard serials.count == 2 else { throw Failure(description: "add-link replied \(serials)") }
        return (serials[0], serials[1])
    }
}

/// The deadline of every wait in the device tests. It only bounds a wait whose event never comes (a
/// failure); a wait ends as soon as its event is seen, so the deadline is generous and no test depends
/// on how fast this machine is.
let eventDeadline: Duration = .seconds(120)

/// Waits until `condition` holds — the event the test waits for, which the code under test brings about
/// on its own threads — and returns true, or false when `deadline` passes first (on the monotonic clock,
/// not the wall clock). The condition is rechecked after waits that grow from 1 ms to 20 ms.
func eventually(deadline: Duration = eventDeadline, _ condition: () throws -> Bool) rethrows -> Bool {
    let clock = ContinuousClock()
    let end = clock.now.advanced(by: deadline)
    var pause = 1_000
    while clock.now < end {
        if try condition() { return true }
        usleep(UInt32(pause))
        pause = min(pause * 2, 20_000)
    }
    return try condition()
}

/// Streams from `source` into `sink` until the sink has accepted `units` units in all, or `until`
/// holds after a delivery attempt (the event a caller waits for), taking everything out as it goes;
/// returns the bytes in order with the index of the first unit. `deadline` (monotonic clock) only
/// bounds a stream that stops.
func collect(
    _ units: Int, from source: USBKeySource, sink: RingKeySink, deadline: Duration = eventDeadline,
    until: () -> Bool = { false }, onError: (KeySourceError) throws -> Void = { throw $0 }
) throws -> (first: UnitIndex?, bytes: [UInt8]) {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(units * sink.unitSize)
    var first: UnitIndex?
    var scratch = [UInt8](repeating: 0, count: sink.capacity * sink.unitSize)
    let clock = ContinuousClock()
    let end = clock.now.advanced(by: deadline)
    while bytes.count < units * sink.unitSize, clock.now < end, !until() {
        do {
            var target = sink
            _ = try source.deliver(at: 0, into: &target)
        } catch {
            try onError(error)
        }
        let wanted = units - bytes.count / sink.unitSize
        if sink.count > 0 {
            let taken = scratch.withUnsafeMutableBytes { sink.take(upTo: min(sink.count, wanted), into: $0) }
            if first == nil { first = taken.first }
            bytes += scratch.prefix(taken.count * sink.unitSize)
        } else {
            source.waitForUnits(milliseconds: 50)
        }
    }
    return (first, Array(bytes.prefix(units * sink.unitSize)))
}

/// The expected bytes of an emulated link's stream.
func expectedStream(seed: UInt64, link: LinkID, first: UnitIndex, units: Int, unitSize: Int = 32) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: units * unitSize)
    bytes.withUnsafeMutableBytes {
        SeededKeyStream(seed: seed, link: link).fill(firstIndex: first, unitCount: units, unitSize: unitSize, into: $0)
    }
    return bytes
}
