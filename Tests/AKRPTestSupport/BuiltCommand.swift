import Foundation

/// One of the package's executables, run by the tests as a user runs it: the binary named by an
/// environment variable, or the one built beside the test bundle.
public struct BuiltCommand: Sendable {
    /// The executable's path.
    public let path: String

    /// `name` built beside the test bundle, or the path in the environment variable `variable`.
    public init(_ name: String, environment variable: String) {
        if let path = ProcessInfo.processInfo.environment[variable] {
            self.path = path
        } else {
            path = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
        }
    }

    /// The executable at `path`.
    public init(path: String) {
        self.path = path
    }

    /// Whether the executable exists.
    public var available: Bool { FileManager.default.isExecutableFile(atPath: path) }

    /// Runs the command to its end; `status` is its exit status, or 1000 + the signal when a signal
    /// killed it (a trap); `output` is standard output and standard error together.
    public func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let status = process.terminationReason == .uncaughtSignal ? 1000 + process.terminationStatus : process.terminationStatus
        return (status, String(decoding: data, as: UTF8.self))
    }
}
