import Foundation
import Testing

/// `akrp-sim run` through the built binary (`$AKRP_SIM`, or `akrp-sim` beside the test bundle).
@Suite struct SimulatorCommandTests {
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["AKRP_SIM"] { return path }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("akrp-sim").path
    }

    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
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
    }

    @Test func malformedListsAreRefusedNamingTheOption() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "akrp-sim not built at \(Self.binary)")
        let badBudget = try run(["run", "--budget-ms", "500,abc", "--duration", "1"])
        #expect(badBudget.status != 0 && badBudget.output.contains("--budget-ms"))
        let badLoad = try run(["run", "--load", "1.0,0", "--duration", "1"])
        #expect(badLoad.status != 0 && badLoad.output.contains("--load"))
    }
}
