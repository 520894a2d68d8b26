import AKRPTestSupport
import Foundation
import Testing

/// `akrp-sim run` through the built binary (`$AKRP_SIM`, or `akrp-sim` beside the test bundle).
@Suite struct SimulatorCommandTests {
    static var binary: String { BuiltCommand("akrp-sim", environment: "AKRP_SIM").path }

    /// Runs the command; `status` is its exit status, or 1000 + the signal when it was killed by one (a trap).
    func run(_ arguments: [String], executable: String = SimulatorCommandTests.binary) throws -> (status: Int32, output: String) {
        try BuiltCommand(path: executable).run(arguments)
    }

    @Test func budgetListRunsEachAKRPProtocolPerBudgetAndPlotsTheFrontier() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "akrp-sim not built at \(Self.binary)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("akrp-sim-frontier-\(getpid())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let json = directory.appendingPathComponent("results.json").path
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let out = try run([
            "run", "--topology", "nsfnet", "--protocols", "akrp,rsvp", "--load", "0.8,1.2", "--routing", "key-aware",
            "--duration", "4", "--drain", "4", "--budget-ms", "500,900", "--json", json, "--plot", directory.path,
            "--threads", "1",
        ])
        #expect(out.status == 0, "\(out.output)")
        let results = try String(contentsOfFile: json, encoding: .utf8)
        for name in ["akrp@500ms", "akrp@900ms", "rsvp"] {
            // Two loads, one result each.
            #expect(results.components(separatedBy: "\"protocol\":\"\(name)\"").count - 1 == 2, "\(name)")
        }
        for metric in ["p99", "mean"] {
            for load in ["0.80", "1.20"] {
                let svg = try String(
                    contentsOfFile: directory.appendingPathComponent("frontier-\(metric)-key-aware-load\(load).svg").path,
                    encoding: .utf8)
                #expect(svg.contains(">500</text>") && svg.contains(">900</text>") && svg.contains(">rsvp</text>"))
            }
        }
        // The latency split: each protocol's mean and its no-wait floor.
        let split = try String(
            contentsOfFile: directory.appendingPathComponent("latency-split-key-aware.svg").path, encoding: .utf8)
        #expect(split.contains(">rsvp no-wait floor</text>") && split.contains(">akrp@900ms mean</text>"), "\(split.prefix(2000))")
        // tools/claims.py reads the same JSON: every claim row and the frontier verdict for each baseline.
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("tools/claims.py").path
        let claims = try run(
            [script, json, "--saturation", "1.0", "--frontier", json, "--seeds", json], executable: "/usr/bin/python3")
        #expect(claims.status == 0, "\(claims.output)")
        // One configuration (the default budget of a budget sweep) against each baseline, never a best-of.
        #expect(claims.output.contains("## Claims of `akrp@900ms` (one configuration) against each baseline"))
        #expect(claims.output.contains("| key-aware | 1.20 | throughput (bit/s) |"))
        #expect(claims.output.contains("| key-aware | 0.80 | wasted bits | 0 |"))
        #expect(!claims.output.contains("| key-aware | 0.80 | throughput"), "throughput is only claimed from saturation up")
        #expect(claims.output.contains("| rsvp |"))
        #expect(!claims.output.contains("akrp@500ms |"), "another budget must not stand in for the configuration")
        // The frontier names the budgets that dominate each baseline point.
        #expect(claims.output.contains("of 2 baseline points are dominated by at least one budget setting of akrp"))
        // The same file twice as "seeds": one row per seed and a summary row for load 1.2 only.
        #expect(claims.output.contains("| key-aware | 1.20 | all | rsvp |"))
        #expect(!claims.output.contains("| key-aware | 0.80 | all |"))
        #expect(claims.output.contains("(routing, load, seed, baseline) points."))
        // A configuration that is not in the file is refused, naming what is there.
        let missing = try run([script, json, "--config", "akrp-multipath"], executable: "/usr/bin/python3")
        #expect(missing.status == 2 && missing.output.contains("akrp@900ms"), "\(missing.output)")
    }

    /// tools/acceptance.py on results with known figures: each criterion counts its points, a point that
    /// fails is listed with its figures, and the reason follows from them (the extra crossing when AKRP waits
    /// no longer than rsvp, waiting otherwise; authentication when its relay key alone is no higher).
    @Test func acceptanceListsTheFailedPointsWithTheirReasons() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("akrp-acceptance-\(getpid())")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func row(_ p: String, _ load: Double, throughput: Double, mean: Double, p99: Double, floor: (Double, Double),
                 waiting: (Double, Double), plain: Double, auth: Double, frames: Int) -> String {
            """
            {"protocol":"\(p)","routing":"key-aware","load":\(load),"seed":1,"throughput_bps":\(throughput),\
            "success_ratio":0.97,"key_wasted_bits":0,"consumed_per_delivered_bit":\(plain),\
            "consumed_per_delivered_bit_with_authentication":\(auth),"frames":\(frames),"delivered_requests":100,\
            "latency_ms":{"mean":\(mean),"p99":\(p99)},"latency_floor_ms":{"mean":\(floor.0),"p99":\(floor.1)},\
            "waiting_ms":{"mean":\(waiting.0),"p99":\(waiting.1),"min":0}}
            """
        }
        let rows = [
            // Load 0.2: mean above rsvp's by the floor (waits less), p99 above mostly by waiting (110 − 60 > 45 − 30).
            row("akrp", 0.2, throughput: 16_000, mean: 30, p99: 135, floor: (26, 45), waiting: (4, 110), plain: 2.2, auth: 3.0, frames: 700),
            row("rsvp", 0.2, throughput: 16_000, mean: 25, p99: 90, floor: (17, 30), waiting: (8, 60), plain: 2.2, auth: 2.6, frames: 450),
            row("hop-by-hop", 0.2, throughput: 16_000, mean: 20, p99: 900, floor: (9, 15), waiting: (11, 885), plain: 2.25, auth: 2.5, frames: 220),
            // Load 1.0: throughput below hop-by-hop's, above rsvp's; latency below rsvp's.
            row("akrp", 1.0, throughput: 80_000, mean: 70, p99: 400, floor: (28, 70), waiting: (42, 330), plain: 2.5, auth: 4.0, frames: 600),
            row("rsvp", 1.0, throughput: 79_000, mean: 110, p99: 970, floor: (20, 50), waiting: (90, 920), plain: 2.9, auth: 5.0, frames: 900),
            row("hop-by-hop", 1.0, throughput: 81_000, mean: 1000, p99: 4900, floor: (10, 26), waiting: (990, 4874), plain: 2.8, auth: 3.3, frames: 200),
        ]
        let results = directory.appendingPathComponent("r.json").path
        try ("[" + rows.joined(separator: ",") + "]").write(toFile: results, atomically: true, encoding: .utf8)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("tools/acceptance.py").path
        let out = try run([script, "--blocks", results, "--large", results], executable: "/usr/bin/python3")
        #expect(out.status == 0, "\(out.output)")
        let text = out.output
        // Two sets × two loads; throughput only at 1.0 (two baselines each).
        #expect(text.contains("| throughput | 4 | 2 | 2 |"), "\(text)")
        #expect(text.contains("| mean latency | 4 | 2 | 2 |"), "\(text)")
        #expect(text.contains("| p99 latency | 4 | 2 | 2 |"), "\(text)")
        // 256-bit: 3.0 / 2.5 = 1.2 and 4.0 / 3.3 = 1.21, within 1.5×; 4,096-bit: both above hop-by-hop's.
        #expect(text.contains("| key per bit (256-bit) | 2 | 2 | 0 |"), "\(text)")
        #expect(text.contains("| key per bit (4,096-bit) | 2 | 0 | 2 |"), "\(text)")
        #expect(text.contains("| key wasted | 4 | 4 | 0 |"), "\(text)")
        #expect(text.contains("| 256-bit | key-aware | 1.00 | 1 | 80,000 vs hop-by-hop 81,000 bit/s (-1.23 %) |"), "\(text)")
        #expect(text.contains("30.0 vs rsvp 25.0 ms | the extra crossing (no-wait 26.0 vs 17.0 ms, waiting 4.0 vs 8.0 ms)"), "\(text)")
        #expect(text.contains("135.0 vs rsvp 90.0 ms | mostly waiting for key, held frames or re-routes (no-wait 45.0 vs 30.0 ms"), "\(text)")
        #expect(text.contains("| 4,096-bit | key-aware | 0.20 | 1 | 3.000 vs hop-by-hop 2.500 (1.200×) | authenticating more frames"), "\(text)")
        #expect(text.contains("| 4,096-bit | key-aware | 1.00 | 1 | 4.000 vs hop-by-hop 3.300 (1.212×) | authenticating more frames"), "\(text)")
        #expect(!text.contains("rsvp 79,000"), "a throughput point that holds is not listed")
        // A file without the configuration is refused, naming what it has.
        let other = try run([script, "--blocks", results, "--config", "akrp-multipath"], executable: "/usr/bin/python3")
        #expect(other.status == 2 && other.output.contains("it has: akrp, hop-by-hop, rsvp"), "\(other.output)")
        // A baseline that delivered nothing (0 key per delivered bit) is a point, not a division by zero.
        let empty = rows.map {
            $0.contains("\"hop-by-hop\",\"routing\":\"key-aware\",\"load\":0.2")
                ? $0.replacingOccurrences(of: "\"consumed_per_delivered_bit_with_authentication\":2.5", with: "\"consumed_per_delivered_bit_with_authentication\":0")
                : $0
        }
        let emptyFile = directory.appendingPathComponent("empty.json").path
        try ("[" + empty.joined(separator: ",") + "]").write(toFile: emptyFile, atomically: true, encoding: .utf8)
        let zero = try run([script, "--large", emptyFile], executable: "/usr/bin/python3")
        #expect(zero.status == 0 && zero.output.contains("| key per bit (4,096-bit) | 2 | 1 | 1 |"), "\(zero.output)")
        // Results without the latency split (an older akrp-sim) are refused, naming the missing fields.
        let old = directory.appendingPathComponent("old.json").path
        try ("[" + rows.map { $0.replacingOccurrences(of: "\"waiting_ms\"", with: "\"other\"") }.joined(separator: ",") + "]")
            .write(toFile: old, atomically: true, encoding: .utf8)
        let stale = try run([script, "--blocks", old], executable: "/usr/bin/python3")
        #expect(stale.status == 2 && stale.output.contains("lacks waiting_ms"), "\(stale.output)")
    }

    @Test func malformedListsAreRefusedNamingTheOption() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "akrp-sim not built at \(Self.binary)")
        let badBudget = try run(["run", "--budget-ms", "500,abc", "--duration", "1"])
        #expect(badBudget.status != 0 && badBudget.output.contains("--budget-ms"))
        let badLoad = try run(["run", "--load", "1.0,0", "--duration", "1"])
        #expect(badLoad.status != 0 && badLoad.output.contains("--load"))
    }

    /// Out-of-range numbers are refused with exit status 64 naming the option — never a trap, a hang or an
    /// attempt to allocate what the machine does not have.
    @Test(arguments: [
        (["--duration", "1e300"], "--duration"),
        (["--drain=-1"], "--drain"),
        (["--budget-ms", "1e300"], "--budget-ms"),
        (["--detour-budget-ms", "1e300"], "--detour-budget-ms"),
        (["--processing-us=-1"], "--processing-us"),
        (["--link-state-ms", "1e300"], "--link-state-ms"),
        (["--block-period", "1e300"], "--block-period"),
        (["--rate", "1e12"], "--rate"),
        (["--rate", "1000000", "--duration", "100"], "requests per point"),
        (["--load", "1:1000000:0.0001"], "--load"),
        (["--pool-capacity", "100000000"], "--pool-capacity"),
        (["--records=-1"], "--records"),
        (["--threads=-1"], "--threads"),
        (["--topology", "waxman:100000000"], "waxman:N"),
        (["--topology", "grid:100000x100000"], "grid:RxC"),
        // The engine's own field names (maxRequestUnits, poolCapacity) never reach the user.
        (["--request-bits", "16384", "--pool-capacity", "32"], "raise --pool-capacity (32) or lower --request-bits"),
    ])
    func outOfRangeNumbersAreRefused(arguments: [String], named: String) throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "akrp-sim not built at \(Self.binary)")
        let out = try run(["run", "--protocols", "akrp", "--duration", "1"] + arguments)
        #expect(out.status == 64, "\(out.output)")
        #expect(out.output.contains(named), "\(out.output)")
    }

    /// A bad output path is refused before the run (in well under the run's time), naming the option
    /// and the folder — never a raw Foundation error after the results are computed.
    @Test(arguments: [
        ("--json", "/nonexistent-akrp-folder/r.json", "the folder /nonexistent-akrp-folder does not exist"),
        ("--trace", "/tmp", "is a folder, not a file"),
        ("--plot", "/proc/akrp-plots", "the folder cannot be made (/proc/akrp-plots: No such file or directory)"),
    ])
    func badOutputPathIsRefusedBeforeTheRun(option: String, path: String, reason: String) throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "akrp-sim not built at \(Self.binary)")
        // A run of 10,000 simulated seconds would take minutes: the refusal must come first.
        let out = try run(["run", "--protocols", "rsvp", "--duration", "10000", option, path])
        #expect(out.status != 0, "\(out.output)")
        #expect(out.output.contains("\(option) \(path): \(reason)"), "\(out.output)")
        #expect(!out.output.contains("NSCocoaErrorDomain") && !out.output.contains("routing    load"), "\(out.output)")
    }

    /// Trace lines of a sweep carry protocol, routing, load and budget: no two lines share them all with an id.
    @Test func traceLinesOfASweepNameTheirRun() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "akrp-sim not built at \(Self.binary)")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("akrp-sim-trace-\(getpid()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let out = try run([
            "run", "--protocols", "akrp,rsvp", "--routing", "shortest,key-aware", "--load", "0.5,1.0", "--duration", "2",
            "--drain", "2", "--threads", "1", "--trace", path,
        ])
        #expect(out.status == 0, "\(out.output)")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var keys = Set<String>()
        var lines = 0
        var runs = Set<String>()
        for line in text.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let run = "\(object["protocol"]!)|\(object["routing"]!)|\(object["load"]!)|\(object["budget_ms"]!)"
            keys.insert("\(object["id"]!)|" + run)
            runs.insert(run)
            lines += 1
        }
        #expect(lines > 0 && keys.count == lines)
        #expect(runs.count == 8, "\(runs)")
    }

    /// Without a terminal (a CI log), a long run prints progress lines on standard error.
    @Test func progressLinesWithoutATerminal() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "akrp-sim not built at \(Self.binary)")
        setenv("AKRP_PROGRESS_SECONDS", "0.000001", 1)
        defer { unsetenv("AKRP_PROGRESS_SECONDS") }
        let out = try run(["run", "--protocols", "akrp", "--duration", "20", "--load", "1.0", "--threads", "1"])
        #expect(out.status == 0, "\(out.output)")
        #expect(out.output.contains("progress: ") && out.output.contains("/1 runs)"), "\(out.output.prefix(400))")
    }

    @Test func topologyFileWithCRLFRuns() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "akrp-sim not built at \(Self.binary)")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("akrp-sim-crlf-\(getpid()).topo").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "node A\r\nnode B\r\nnode C\r\nlink A B rate=4000 delay=1\r\nlink B C rate=4000 delay=1\r\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let out = try run(["run", "--topology", path, "--protocols", "akrp", "--duration", "2", "--threads", "1"])
        #expect(out.status == 0, "\(out.output)")
        #expect(out.output.contains("(3 nodes, 2 links)"), "\(out.output)")
    }

    @Test func firstSeedNearTheEndIsRefusedNotWrapped() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "akrp-sim not built at \(Self.binary)")
        let out = try run(["chaos", "--first-seed", "18446744073709551615", "--seeds", "2"])
        #expect(out.status == 64, "\(out.output)")
        #expect(out.output.contains("--first-seed"), "\(out.output)")
        let last = try run(["chaos", "--first-seed", "18446744073709551614", "--seeds", "2"])
        #expect(last.status == 0 && last.output.contains("2 seeds, 0 invariant violations"), "\(last.output)")
    }
}
