import AKRPSimulation
import Foundation

/// Why `akrp-sim run` cannot write one of its output files; names the option and the path.
struct OutputError: Error, CustomStringConvertible {
    let option: String
    let path: String
    let reason: String
    var description: String { "\(option) \(path): \(reason)" }
}

/// The files `akrp-sim run` writes: `--json`, `--trace`, `--plot` and `--scenario-out`.
struct RunOutputs {
    let json: String?
    let trace: String?
    let plot: String?
    let scenario: String?

    /// Checks before the run that every output can be written: the folder of each file exists and is
    /// writable, a file path is not a folder, the plot folder can be made. Creates the plot folder.
    func preflight() throws(OutputError) {
        for (option, path) in [("--json", json), ("--trace", trace), ("--scenario-out", scenario)] {
            guard let path else { continue }
            try Self.checkFile(option: option, path: path)
        }
        if let dir = plot {
            if let problem = Self.makeFolder(dir) {
                throw OutputError(option: "--plot", path: dir, reason: "the folder cannot be made (\(problem))")
            }
            guard access(dir, W_OK) == 0 else {
                throw OutputError(option: "--plot", path: dir, reason: "the folder is not writable (\(String(cString: strerror(errno))))")
            }
        }
    }

    static func checkFile(option: String, path: String) throws(OutputError) {
        guard !path.isEmpty else { throw OutputError(option: option, path: "''", reason: "an empty path") }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            guard !isFolder.boolValue else { throw OutputError(option: option, path: path, reason: "is a folder, not a file") }
            guard access(path, W_OK) == 0 else {
                throw OutputError(option: option, path: path, reason: "cannot be overwritten (\(String(cString: strerror(errno))))")
            }
            return
        }
        let folder = (path as NSString).deletingLastPathComponent
        let parent = folder.isEmpty ? "." : folder
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isFolder), isFolder.boolValue else {
            throw OutputError(option: option, path: path, reason: "the folder \(parent) does not exist")
        }
        guard access(parent, W_OK) == 0 else {
            throw OutputError(option: option, path: path, reason: "the folder \(parent) is not writable (\(String(cString: strerror(errno))))")
        }
    }

    /// `mkdir -p`: nil when `path` is a folder afterwards, else the system's reason for the first step
    /// that failed, naming that folder.
    static func makeFolder(_ path: String) -> String? {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                return "\(prefix): \(String(cString: strerror(errno)))"
            }
            prefix += "/"
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
            return "\(path) exists and is not a folder"
        }
        return nil
    }

    /// A readable reason for a Foundation error: the POSIX message when there is one.
    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return ns.localizedDescription
    }

    /// Writes the results (`--json`), the per-request trace (`--trace`) and the plots (`--plot`).
    func write(outputs: [ProtocolRunner.Output], network: SimNetwork, boundMethod: String) throws(OutputError) {
        let results = outputs.map(\.result)
        if let path = json {
            let body = "[\n" + results.map(\.json).joined(separator: ",\n") + "\n]\n"
            do { try body.write(toFile: path, atomically: true, encoding: .utf8) } catch {
                throw OutputError(option: "--json", path: path, reason: Self.reason(error))
            }
        }
        if let path = trace {
            do { try writeTrace(outputs: outputs, to: path) } catch {
                throw OutputError(option: "--trace", path: path, reason: Self.reason(error))
            }
        }
        if let dir = plot {
            do { try RunPlots(results: results, network: network, boundMethod: boundMethod).write(to: dir) } catch {
                throw OutputError(option: "--plot", path: dir, reason: Self.reason(error))
            }
        }
    }

    /// The trace as JSON lines, written in chunks of about 1 MB.
    private func writeTrace(outputs: [ProtocolRunner.Output], to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw NSError(domain: NSPOSIXErrorDomain, code: Int(errno))
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        for output in outputs {
            var chunk = ""
            for line in output.trace {
                chunk += line
                chunk += "\n"
                if chunk.utf8.count > 1 << 20 {
                    try handle.write(contentsOf: Data(chunk.utf8))
                    chunk = ""
                }
            }
            try handle.write(contentsOf: Data(chunk.utf8))
        }
    }

    /// `--scenario-out`: topology and demand as JSON, for tools/flow-bound.py.
    func writeScenario(network: SimNetwork, demand: Demand) throws(OutputError) {
        guard let path = scenario else { return }
        var s = "{\"topology\":\"\(network.name)\",\"nodes\":\(network.nodeCount),\"links\":["
        s += network.links.map { "[\($0.a + 1),\($0.b + 1),\($0.rate)]" }.joined(separator: ",")
        s += "],\"demand\":["
        s += demand.weightedPairs().map { "[\($0.0 + 1),\($0.1 + 1),\($0.2)]" }.joined(separator: ",")
        s += "]}\n"
        do { try s.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw OutputError(option: "--scenario-out", path: path, reason: Self.reason(error))
        }
    }
}

/// Peak resident set size of this process, MB (Linux `VmHWM`).
func peakResidentMegabytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb / 1024
    }
    return 0
}
