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
            "--duration", "4", "--drain", "4", "--budget-ms", "500,2000", "--json", json, "--plot", directory.path,
            "--threads", "1",
        ])
        #expect(out.status == 0, "\(out.output)")
        let results = try String(contentsOfFile: json, encoding: .utf8)
        for name in ["akrp@500ms", "akrp@2000ms", "rsvp"] {
            // Two loads, one result each.
            #expect(results.components(separatedBy: "\"protocol\":\"\(name)\"").count - 1 == 2, "\(name)")
        }
        for metric in ["p99", "mean"] {
            for load in ["0.80", "1.20"] {
                let svg = try String(
                    contentsOfFile: directory.appendingPathComponent("frontier-\(metric)-key-aware-load\(load).svg").path,
                    encoding: .utf8)
                #expect(svg.contains(">500</text>") && svg.contains(">2000</text>") && svg.contains(">rsvp</text>"))
            }
        }
        // tools/claims.py reads the same JSON: every claim row and the frontier verdict for each baseline.
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("tools/claims.py").path
        let claims = try run(
            [script, json, "--saturation", "1.0", "--frontier", json, "--seeds", json], executable: "/usr/bin/python3")
        #expect(claims.status == 0, "\(claims.output)")
        #expect(claims.output.contains("| key-aware | 1.20 | throughput (bit/s) |"))
        #expect(claims.output.contains("| key-aware | 0.80 | wasted bits | akrp"))
        #expect(!claims.output.contains("| key-aware | 0.80 | throughput"), "throughput is only claimed from saturation up")
        #expect(claims.output.contains("| key-aware | 1.20 | rsvp |"))
        #expect(claims.output.contains("of 2 baseline points are dominated"))
        // The same file twice as "seeds": one row per seed and a summary row for load 1.2 only.
        #expect(claims.output.contains("| key-aware | 1.20 | all |"))
        #expect(!claims.output.contains("| key-aware | 0.80 | all |"))
        #expect(claims.output.contains("(routing, load, seed) points."))
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
    ])
    func outOfRangeNumbersAreRefused(arguments: [String], named: String) throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "akrp-sim not built at \(Self.binary)")
        let out = try run(["run", "--protocols", "akrp", "--duration", "1"] + arguments)
        #expect(out.status == 64, "\(out.output)")
        #expect(out.output.contains(named), "\(out.output)")
    }
}
