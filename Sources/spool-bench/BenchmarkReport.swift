import SpoolJSON
import SpoolKit
import SpoolSystem

/// What one `spool bench` run found: where it ran, which scenarios ran and how they ended, and
/// every measurement with its target evaluated. Printed as a table or as JSON.
public struct BenchmarkReport: Sendable {
    /// How one scenario ended.
    public struct ScenarioResult: Sendable {
        /// The scenario's name.
        public let name: String
        /// Its wall time, set-up included.
        public let seconds: Double
        /// Why it could not run properly; nil when it ran to its end.
        public let failure: String?
    }

    /// When and where: ISO 8601 date, processors, the file system of the directory measured.
    public var date: String
    /// Processors online (`nproc`).
    public var processorCount: Int
    /// The directory the temporary spools were made in (`--dir`).
    public var directory: String
    /// Its file system type (`ext4`), from /proc/self/mountinfo.
    public var fileSystem: String
    /// `release` or `debug`: figures mean something only in a release build.
    public var buildConfiguration: String
    /// Whether it was a `--quick` run (targets not evaluated).
    public var quick: Bool
    /// The C floor: ready (compiled from where), or why not.
    public var floor: String
    /// The stamp probe: ready, or why not.
    public var stamp: String
    /// The scenarios run, in order.
    public var scenarios: [ScenarioResult] = []
    /// Every row, in the order measured.
    public var measurements: [BenchmarkMeasurement] = []
    /// Whether the run was interrupted (SIGINT, SIGTERM) before its end.
    public var interrupted = false

    /// Whether every scenario ran to its end (missed targets do not count against it).
    public var succeeded: Bool { !interrupted && scenarios.allSatisfy { $0.failure == nil } }

    /// A measurement's target as text, and whether it is met: nil when there is no target or
    /// a figure it needs is missing; not evaluated at all in a quick run.
    public func evaluation(of measurement: BenchmarkMeasurement) -> (target: String?, met: Bool?, evaluated: Bool) {
        guard let target = BenchmarkTargets.target(for: measurement.key) else { return (nil, nil, false) }
        let text = target.description(unit: measurement.unit)
        if quick { return (text, nil, false) }
        return (text, target.isMet(by: measurement), true)
    }

    // MARK: Table

    /// The report for a terminal: a header, one row per measurement, then notes and failures.
    public func tableLines() -> [String] {
        var lines = [
            "spool bench: \(date), \(processorCount) processor(s), \(fileSystem) at \(directory), "
                + "\(buildConfiguration) build" + (quick ? ", quick (targets not evaluated)" : "")
        ]
        lines.append("")
        var rows = [["SCENARIO", "VARIANT", "SPOOL", "FLOOR", "RATIO", "TARGET", "MET"]]
        var notes: [String] = []
        var reasons: [String] = []
        for measurement in measurements {
            let evaluation = evaluation(of: measurement)
            let met: String
            if evaluation.target == nil {
                met = "—"
            } else if !evaluation.evaluated {
                met = "not evaluated (quick)"
            } else {
                met = evaluation.met.map { $0 ? "yes" : "no" } ?? "—"
            }
            rows.append([
                measurement.scenario, measurement.variant, cell(measurement.spool, measurement.unit, &reasons),
                measurement.floor.map { cell($0, measurement.unit, &reasons) } ?? "—",
                measurement.ratioToFloor.map { BenchmarkFormat.fixed($0, 2) } ?? "—", evaluation.target ?? "—", met,
            ])
            var remarks: [String] = []
            if let note = measurement.note { remarks.append(note) }
            if let remark = BenchmarkTargets.target(for: measurement.key)?.remark { remarks.append(remark) }
            if !remarks.isEmpty {
                notes.append("\(measurement.scenario) / \(measurement.variant): " + remarks.joined(separator: "; "))
            }
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max()! }
        for row in rows {
            let padded = row.enumerated().map { column, text in
                column == row.count - 1 ? text : text + String(repeating: " ", count: widths[column] - text.count)
            }
            lines.append(padded.joined(separator: "  "))
        }
        if !reasons.isEmpty {
            lines.append("")
            lines.append("n/a:")
            lines += reasons.map { "  " + $0 }
        }
        if !notes.isEmpty {
            lines.append("")
            lines.append("Notes:")
            lines += notes.map { "  " + $0 }
        }
        if !scenarios.isEmpty {
            lines.append("")
            let total = scenarios.reduce(0) { $0 + $1.seconds }
            lines.append(
                "Wall time: "
                    + scenarios.map { "\($0.name) \(BenchmarkFormat.fixed($0.seconds, 0)) s" }
                    .joined(separator: ", ") + "; total \(BenchmarkFormat.fixed(total, 0)) s (set-up included)")
        }
        let failures = scenarios.filter { $0.failure != nil }
        if !failures.isEmpty || interrupted {
            lines.append("")
            for failure in failures { lines.append("FAILED \(failure.name): \(failure.failure!)") }
            if interrupted { lines.append("INTERRUPTED: the remaining scenarios did not run") }
        }
        return lines
    }

    private func cell(_ figure: BenchmarkFigure, _ unit: BenchmarkUnit, _ reasons: inout [String]) -> String {
        switch figure {
        case .value(let value): return unit.format(value)
        case .unavailable(let reason):
            if !reasons.contains(reason) { reasons.append(reason) }
            return "n/a"
        }
    }

    // MARK: JSON

    /// The same data for scripts: every figure a number (or null, with the reason beside it).
    public var jsonValue: JSONValue {
        var root = JSONObject([
            ("date", .string(date)), ("nproc", JSONValue(processorCount)), ("directory", .string(directory)),
            ("fileSystem", .string(fileSystem)), ("build", .string(buildConfiguration)), ("quick", .bool(quick)),
            ("floor", .string(floor)), ("stamp", .string(stamp)), ("succeeded", .bool(succeeded)),
            ("interrupted", .bool(interrupted)),
        ])
        root["scenarios"] = .array(
            scenarios.map { scenario in
                var object = JSONObject([
                    ("name", .string(scenario.name)), ("status", .string(scenario.failure == nil ? "ok" : "failed")),
                    ("seconds", BenchmarkFormat.json(scenario.seconds, decimals: 3)),
                ])
                if let failure = scenario.failure { object["error"] = .string(failure) }
                return .object(object)
            })
        root["measurements"] = .array(
            measurements.map { measurement in
                let evaluation = evaluation(of: measurement)
                var object = JSONObject([
                    ("scenario", .string(measurement.scenario)), ("variant", .string(measurement.variant)),
                    ("key", .string(measurement.key)), ("unit", .string(measurement.unit.rawValue)),
                ])
                func add(_ name: String, _ figure: BenchmarkFigure?) {
                    guard let figure else { return }
                    switch figure {
                    case .value(let value): object[name] = BenchmarkFormat.json(value)
                    case .unavailable(let reason):
                        object[name] = .null
                        object[name + "Unavailable"] = .string(reason)
                    }
                }
                add("spool", measurement.spool)
                add("floor", measurement.floor)
                object["ratio"] = measurement.ratioToFloor.map { BenchmarkFormat.json($0) } ?? .null
                object["target"] = evaluation.target.map { .string($0) } ?? .null
                object["met"] = evaluation.met.map { .bool($0) } ?? .null
                object["evaluated"] = .bool(evaluation.evaluated)
                if let note = measurement.note { object["note"] = .string(note) }
                return .object(object)
            })
        return .object(root)
    }
}
