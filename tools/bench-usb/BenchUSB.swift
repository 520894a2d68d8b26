// akrp-bench-usb: key delivered from a (emulated) QKD device into a pool, with its CPU cost.
// Run under the emulator: tools/bench-usb/run (see docs in Hardware/QKD-USB.md, "Benchmark").
import AKRPDevice
import AKRPEngine
import AKRPKeySource
import Glibc

@main
struct BenchUSB {
    static func main() {
        var arguments = CommandLine.arguments.dropFirst()
        var serial: String?
        var units = 1_000_000
        var json = false
        while let argument = arguments.popFirst() {
            switch argument {
            case "--serial": serial = arguments.popFirst()
            case "--units":
                guard let value = arguments.popFirst().flatMap({ Int($0) }), value >= 1 else {
                    warn("akrp-bench-usb: --units wants a positive integer\n")
                    exit(2)
                }
                units = value
            case "--json": json = true
            default:
                warn("usage: akrp-bench-usb [--serial S] [--units N] [--json]\n")
                exit(2)
            }
        }
        do {
            try run(serial: serial, units: units, json: json)
        } catch {
            print("akrp-bench-usb: \(error)")
            exit(1)
        }
    }

    /// Writes `text` to standard error.
    static func warn(_ text: String) {
        _ = text.withCString { write(2, $0, strlen($0)) }
    }

    static func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    static func run(serial: String?, units: Int, json: Bool) throws {
        guard let serial = try serial ?? DeviceDiscovery.attachedDevices().first?.serial else {
            print("akrp-bench-usb: no QKD device attached")
            exit(1)
        }
        let context = try USBContext()
        defer { context.shutdown() }
        let source = try USBKeySource(serial: serial, context: context)
        defer { source.close() }
        var pool = RingKeySink(link: source.link, unitSize: source.unitSize, capacity: 65_536)
        var usageBefore = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usageBefore)
        let start = now()
        var delivered = 0
        var lastProgress = start
        while delivered < units {
            delivered += try source.deliver(at: 0, into: &pool)
            pool.drop(upTo: pool.count)  // the engine would consume; here the pool is emptied
            if delivered < units { source.waitForUnits(milliseconds: 100) }
            if now() - lastProgress >= 2 {  // a long run is never silent (standard error)
                lastProgress = now()
                warn("akrp-bench-usb: \(delivered)/\(units) units after \(format2(lastProgress - start)) s\n")
            }
        }
        let elapsed = max(now() - start, 1e-9)
        var usageAfter = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usageAfter)
        let cpu = seconds(usageAfter.ru_utime) - seconds(usageBefore.ru_utime) + seconds(usageAfter.ru_stime)
            - seconds(usageBefore.ru_stime)
        let bits = Double(delivered * source.unitSize * 8)
        let counters = source.counters
        let unitsPerSecond = Double(delivered) / elapsed
        if json {
            print(
                "{\"device\":\"\(serial)\",\"link\":\"\(source.link)\",\"unit_bytes\":\(source.unitSize),\"units\":\(delivered),\"seconds\":\(elapsed),\"units_per_second\":\(unitsPerSecond),\"mbit_per_second\":\(bits / elapsed / 1e6),\"cpu_seconds\":\(cpu),\"frames_accepted\":\(counters.framesAccepted),\"bad_crc\":\(counters.badCRC),\"wrong_link\":\(counters.wrongLink),\"non_contiguous\":\(counters.nonContiguous)}")
            return
        }
        print("device \(serial), link \(source.link), unit size \(source.unitSize) B")
        // Below 100 units/s the rate keeps two decimals instead of rounding to "0 units/s".
        let rate = unitsPerSecond >= 100 ? "\(Int(unitsPerSecond))" : format2(unitsPerSecond)
        print("delivered \(delivered) units in \(format2(elapsed)) s: \(rate) units/s, \(format2(bits / elapsed / 1e6)) Mbit/s")
        print("CPU time (driver process, user+system): \(format2(cpu)) s = \(format2(cpu / elapsed * 100)) % of one core, \(format2(cpu / (bits / 1e6) * 1000)) ms per Mbit")
        print("frames \(counters.framesAccepted), rejected: CRC \(counters.badCRC), link \(counters.wrongLink), gap \(counters.nonContiguous)")
    }

    static func format2(_ value: Double) -> String {
        let scaled = (value * 100).rounded()
        let whole = Int(scaled) / 100
        let fraction = abs(Int(scaled) % 100)
        return "\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
