import AKRPSimulation
import Foundation

/// Shared, lock-protected state of the parallel runs of `akrp-sim run`: their outputs and errors, and
/// the progress of the whole sweep (finished runs plus the running ones' fractions).
final class RunState: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var outputs: [ProtocolRunner.Output?]
    private(set) var errors: [String] = []
    private var fractions: [Int: Double] = [:]
    private var done = 0
    private let display: ProgressLine

    init(count: Int) {
        outputs = Array(repeating: nil, count: count)
        display = ProgressLine(total: count, label: "runs")
    }

    /// Worker `worker`'s current run is `fraction` done.
    func progress(worker: Int, fraction: Double) {
        lock.lock()
        fractions[worker] = fraction
        let (f, detail) = overall()
        lock.unlock()
        display.update(fraction: f, detail: detail)
    }

    /// Run `index` finished with `output`.
    func finish(index: Int, output: ProtocolRunner.Output) {
        lock.lock()
        outputs[index] = output
        done += 1
        fractions = [:]
        let (f, detail) = overall()
        lock.unlock()
        display.update(fraction: f, detail: detail)
    }

    /// Run `index` failed.
    func fail(index: Int, message: String) {
        lock.lock()
        errors.append(message)
        done += 1
        lock.unlock()
    }

    /// Called with the lock held.
    private func overall() -> (Double, String) {
        let total = Double(max(1, outputs.count))
        let partial = fractions.values.reduce(0, +)
        return (min(1, (Double(done) + partial) / total), "\(done)/\(outputs.count) runs")
    }

    func endProgress() { display.finish() }
}
