import AKRPSimulation
import Foundation

/// SVG charts and a Markdown summary of `akrp-sim run` results (no plotting library needed).
struct RunPlots {
    let results: [ProtocolResult]
    let network: SimNetwork
    let boundMethod: String

    static let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]

    func write(to dir: String) throws {
        let routings = Array(Set(results.map(\.routing))).sorted()
        let protocols = orderedProtocols()
        for r in routings {
            let rs = results.filter { $0.routing == r }
            let bound = rs.first?.boundThroughputBps ?? 0
            var series: [(String, [(Double, Double)])] = protocols.map { p in
                (p, rs.filter { $0.protocolName == p }.map { ($0.load, $0.throughputBps / 1000) })
            }
            let loads = rs.map(\.load)
            if bound > 0, let lo = loads.min(), let hi = loads.max() {
                series.append(("offered", [(lo, lo * bound / 1000), (hi, hi * bound / 1000)]))
                series.append(("flow bound", [(lo, bound / 1000), (hi, bound / 1000)]))
            }
            try chart(
                title: "\(network.name), \(r) routing: end-to-end key throughput", x: "offered load (× flow bound)",
                y: "throughput (kbit/s)", series: series, logY: false
            ).write(toFile: "\(dir)/throughput-\(r).svg", atomically: true, encoding: .utf8)
            try chart(
                title: "\(network.name), \(r) routing: link key consumed per delivered bit", x: "offered load (× flow bound)",
                y: "consumed / delivered", series: protocols.map { p in
                    (p, rs.filter { $0.protocolName == p && $0.deliveredBits > 0 }.map { ($0.load, $0.consumedPerDeliveredBit) })
                }, logY: false
            ).write(toFile: "\(dir)/consumed-per-bit-\(r).svg", atomically: true, encoding: .utf8)
            var lat: [(String, [(Double, Double)])] = []
            for p in protocols {
                lat.append(("\(p) mean", rs.filter { $0.protocolName == p && $0.deliveredRequests > 0 }.map { ($0.load, max($0.latencyMean, 0.1)) }))
                lat.append(("\(p) p99", rs.filter { $0.protocolName == p && $0.deliveredRequests > 0 }.map { ($0.load, max($0.latencyP99, 0.1)) }))
            }
            try chart(
                title: "\(network.name), \(r) routing: relay latency (solid mean, dashed p99)", x: "offered load (× flow bound)",
                y: "latency (ms, log)", series: lat, logY: true, pairStyle: true
            ).write(toFile: "\(dir)/latency-\(r).svg", atomically: true, encoding: .utf8)
            // Where the mean comes from: the message pattern's no-wait floor (dashed), the rest is waiting.
            var split: [(String, [(Double, Double)])] = []
            for p in protocols {
                let delivered = rs.filter { $0.protocolName == p && $0.deliveredRequests > 0 }
                split.append(("\(p) mean", delivered.map { ($0.load, max($0.latencyMean, 0.1)) }))
                split.append(("\(p) no-wait floor", delivered.map { ($0.load, max($0.latencyFloorMean, 0.1)) }))
            }
            try chart(
                title: "\(network.name), \(r) routing: mean relay latency (solid) and its no-wait floor (dashed)",
                x: "offered load (× flow bound)", y: "latency (ms, log)", series: split, logY: true, pairStyle: true
            ).write(toFile: "\(dir)/latency-split-\(r).svg", atomically: true, encoding: .utf8)
            // CDF at the load closest to 1.0.
            if let target = loads.min(by: { abs($0 - 1) < abs($1 - 1) }) {
                let cdf: [(String, [(Double, Double)])] = protocols.compactMap { p in
                    guard let x = rs.first(where: { $0.protocolName == p && $0.load == target }), !x.latencyQuantiles.isEmpty
                    else { return nil }
                    return (p, x.latencyQuantiles.enumerated().map { (max($1, 0.1), Double($0) / 100) })
                }
                try chart(
                    title: "\(network.name), \(r) routing: latency CDF at load \(target)", x: "relay latency (ms, log)",
                    y: "fraction of delivered requests", series: cdf, logY: false, logX: true
                ).write(toFile: "\(dir)/latency-cdf-\(r).svg", atomically: true, encoding: .utf8)
            }
        }
        try writeFrontiers(to: dir, routings: routings)
        try summary(routings: routings, protocols: protocols).write(toFile: "\(dir)/summary.md", atomically: true, encoding: .utf8)
    }

    /// With several AKRP latency budgets (`--budget-ms A,B,…`): per routing and load, each AKRP protocol's
    /// throughput against its p99 and mean latency over the budgets, with the baselines as single points.
    /// A baseline point below and right of an AKRP curve is beaten on both at some budget.
    func writeFrontiers(to dir: String, routings: [String]) throws {
        guard results.contains(where: { $0.protocolName.contains("@") }) else { return }
        for r in routings {
            let rs = results.filter { $0.routing == r }
            for load in Array(Set(rs.map(\.load))).sorted() {
                let at = rs.filter { $0.load == load && $0.deliveredRequests > 0 }
                var families: [String] = []
                for x in at where !families.contains(x.protocolFamily) { families.append(x.protocolFamily) }
                for (metric, name) in [("p99", "p99"), ("mean", "mean")] {
                    func latency(_ x: ProtocolResult) -> Double { max(metric == "p99" ? x.latencyP99 : x.latencyMean, 0.1) }
                    var series: [(String, [(Double, Double)])] = []
                    var labels: [[String]] = []
                    for f in families {
                        let points = at.filter { $0.protocolFamily == f }
                            .sorted { ($0.latencyBudgetMs ?? 0) < ($1.latencyBudgetMs ?? 0) }
                        series.append((f, points.map { (latency($0), $0.throughputBps / 1000) }))
                        labels.append(points.map { $0.protocolName.contains("@") ? "\(Int($0.latencyBudgetMs ?? 0))" : "" })
                    }
                    let file = "\(dir)/frontier-\(name)-\(r)-load\(String(format: "%.2f", load)).svg"
                    try chart(
                        title: "\(network.name), \(r), load \(String(format: "%.2f", load)): throughput vs \(name) latency (labels: AKRP budget, ms)",
                        x: "\(name) relay latency (ms, log)", y: "throughput (kbit/s)", series: series, logY: false, logX: true,
                        pointLabels: labels, zeroY: false
                    ).write(toFile: file, atomically: true, encoding: .utf8)
                }
            }
        }
    }

    func orderedProtocols() -> [String] {
        var seen: [String] = []
        for r in results where !seen.contains(r.protocolName) { seen.append(r.protocolName) }
        return seen
    }

    func summary(routings: [String], protocols: [String]) -> String {
        var s = "# akrp-sim results: \(network.name)\n\n"
        if let r = results.first {
            s += "Workload \(r.workload), \(r.durationSeconds) s of arrivals, seed \(r.seed), flow bound \(Int(r.boundThroughputBps)) bit/s (\(boundMethod)).\n\n"
        }
        for r in routings {
            s += "## \(r) routing\n\n"
            s += "| load | protocol | offered | delivered | throughput bit/s | / bound | success | dropped | wasted bits | consumed/delivered bit | mean ms | p50 ms | p99 ms | max ms | Jain | reserved-idle units | peak queue |\n"
            s += "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
            for x in results where x.routing == r {
                s += String(
                    format: "| %.2f | %@ | %d | %d | %.0f | %.3f | %.3f | %d | %d | %.3f | %.1f | %.1f | %.1f | %.1f | %.3f | %.1f | %d |\n",
                    x.load, x.protocolName as NSString, x.offeredRequests, x.deliveredRequests, x.throughputBps, x.boundRatio,
                    x.successRatio, x.droppedRequests, x.keyWastedBits, x.consumedPerDeliveredBit, x.latencyMean, x.latencyP50,
                    x.latencyP99, x.latencyMax, x.jainFairness, x.reservedIdleUnitsMean, x.peakQueuePackets)
            }
            s += "\n"
        }
        _ = protocols
        return s
    }

    /// A line chart as SVG.
    func chart(
        title: String, x: String, y: String, series: [(String, [(Double, Double)])], logY: Bool, logX: Bool = false,
        pairStyle: Bool = false, pointLabels: [[String]] = [], zeroY: Bool = true
    ) -> String {
        let w = 800.0, h = 460.0, left = 70.0, right = 240.0, top = 40.0, bottom = 50.0
        let points = series.flatMap(\.1)
        func tx(_ v: Double) -> Double { logX ? log10(max(v, 1e-6)) : v }
        func ty(_ v: Double) -> Double { logY ? log10(max(v, 1e-6)) : v }
        var x0 = points.map { tx($0.0) }.min() ?? 0, x1 = points.map { tx($0.0) }.max() ?? 1
        var y0 = logY || !zeroY ? (points.map { ty($0.1) }.min() ?? 0) : min(0, points.map(\.1).min() ?? 0)
        if !zeroY && !logY { y0 *= 0.97 }
        var y1 = points.map { ty($0.1) }.max() ?? 1
        if logX { x0 = floor(x0); x1 = ceil(x1) }
        if logY { y0 = floor(y0); y1 = ceil(y1) } else { y1 *= 1.05 }
        if x1 <= x0 { x1 = x0 + 1 }
        if y1 <= y0 { y1 = y0 + 1 }
        func px(_ v: Double) -> Double { left + (tx(v) - x0) / (x1 - x0) * (w - left - right) }
        func py(_ v: Double) -> Double { h - bottom - (ty(v) - y0) / (y1 - y0) * (h - top - bottom) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(left)\" y=\"22\" text-anchor=\"start\" font-size=\"13\">\(escape(title))</text>\n"
        s += "<line x1=\"\(left)\" y1=\"\(h - bottom)\" x2=\"\(w - right)\" y2=\"\(h - bottom)\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(h - bottom)\" stroke=\"black\"/>\n"
        // Ticks.
        // Log axes get ticks at 1, 2 and 5 times each power of ten; linear ones five even steps.
        for tv in ticks(x0, x1, log: logX) {
            let xp = left + (tv - x0) / (x1 - x0) * (w - left - right)
            let label = logX ? fmt((pow(10, tv) * 1000).rounded() / 1000) : fmt(tv)
            s += "<line x1=\"\(fmt2(xp))\" y1=\"\(h - bottom)\" x2=\"\(fmt2(xp))\" y2=\"\(h - bottom + 5)\" stroke=\"black\"/>"
            s += "<text x=\"\(fmt2(xp))\" y=\"\(h - bottom + 18)\" text-anchor=\"middle\">\(label)</text>\n"
        }
        for yv in ticks(y0, y1, log: logY) {
            let yp = h - bottom - (yv - y0) / (y1 - y0) * (h - top - bottom)
            let ylabel = logY ? fmt((pow(10, yv) * 1000).rounded() / 1000) : fmt(yv)
            s += "<line x1=\"\(left - 5)\" y1=\"\(yp)\" x2=\"\(w - right)\" y2=\"\(yp)\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(left - 8)\" y=\"\(yp + 4)\" text-anchor=\"end\">\(ylabel)</text>\n"
        }
        s += "<text x=\"\((left + w - right) / 2)\" y=\"\(h - 12)\" text-anchor=\"middle\">\(escape(x))</text>\n"
        s += "<text x=\"16\" y=\"\((top + h - bottom) / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 16 \((top + h - bottom) / 2))\">\(escape(y))</text>\n"
        for (i, (name, pts)) in series.enumerated() where !pts.isEmpty {
            let colour: String
            var dash = ""
            if pairStyle {
                colour = Self.colours[(i / 2) % Self.colours.count]
                if i % 2 == 1 { dash = " stroke-dasharray=\"6,4\"" }
            } else if name == "flow bound" || name == "offered" {
                colour = "#444"
                dash = name == "offered" ? " stroke-dasharray=\"2,4\"" : " stroke-dasharray=\"8,4\""
            } else {
                colour = Self.colours[i % Self.colours.count]
            }
            let d = pts.map { "\(fmt2(px($0.0))),\(fmt2(py($0.1)))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash) points=\"\(d)\"/>\n"
            if pts.count < 30 {
                let radius = pts.count == 1 ? 5.0 : 2.5
                for p in pts { s += "<circle cx=\"\(fmt2(px(p.0)))\" cy=\"\(fmt2(py(p.1)))\" r=\"\(radius)\" fill=\"\(colour)\"/>" }
                s += "\n"
            }
            if i < pointLabels.count {
                for (p, label) in zip(pts, pointLabels[i]) where !label.isEmpty {
                    s += "<text x=\"\(fmt2(px(p.0) + 4))\" y=\"\(fmt2(py(p.1) - 5))\" font-size=\"10\" fill=\"\(colour)\">\(escape(label))</text>"
                }
                s += "\n"
            }
            let ly = top + 10 + Double(i) * 18
            s += "<line x1=\"\(w - right + 10)\" y1=\"\(ly)\" x2=\"\(w - right + 35)\" y2=\"\(ly)\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash)/>"
            s += "<text x=\"\(w - right + 40)\" y=\"\(ly + 4)\">\(escape(name))</text>\n"
        }
        s += "</svg>\n"
        return s
    }

    /// Tick positions between `lo` and `hi` (axis units): on a log axis (units = powers of ten) at 1, 2
    /// and 5 times each power of ten (only the powers when the axis spans more than three), otherwise
    /// five even steps.
    func ticks(_ lo: Double, _ hi: Double, log: Bool) -> [Double] {
        guard log else { return (0...5).map { lo + (hi - lo) * Double($0) / 5 } }
        var out: [Double] = []
        var d = lo
        while d <= hi {
            for m in (hi - lo > 3 ? [1.0] : [1.0, 2.0, 5.0]) where d + log10(m) <= hi + 1e-9 { out.append(d + log10(m)) }
            d += 1
        }
        return out
    }

    func fmt(_ v: Double) -> String {
        if abs(v) >= 100 || v == v.rounded() { return String(format: "%.0f", v) }
        if abs(v) >= 1 { return String(format: "%.1f", v) }
        return String(format: "%.2g", v)
    }
    func fmt2(_ v: Double) -> String { String(format: "%.1f", v) }
    func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    }
}
