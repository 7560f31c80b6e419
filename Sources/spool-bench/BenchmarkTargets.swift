import SpoolJSON
import SpoolKit
import SpoolSystem

/// A performance target: a rule on one measurement, and the issue that set it.
public struct BenchmarkTarget: Sendable {
    /// How a measurement meets the target.
    public enum Rule: Sendable, Equatable {
        /// spool ≥ factor × the floor's figure.
        case atLeastTimesFloor(Double)
        /// spool ≤ factor × the floor's figure.
        case atMostTimesFloor(Double)
        /// spool ≥ the value, in the measurement's unit.
        case atLeast(Double)
        /// spool ≤ the value, in the measurement's unit.
        case atMost(Double)
    }

    /// The measurement's key (`exec-noop.workers-2`).
    public let key: String
    /// How it is met.
    public let rule: Rule
    /// Where the target comes from ("issue 10").
    public let source: String
    /// What else the target asks that this benchmark does not measure, for the row's note.
    public let remark: String?

    /// The target as a table shows it: `≥ 0.85 × floor`, `≤ 5 ms`.
    public func description(unit: BenchmarkUnit) -> String {
        switch rule {
        case .atLeastTimesFloor(let factor): return "≥ \(BenchmarkFormat.fixed(factor, 2)) × floor"
        case .atMostTimesFloor(let factor): return "≤ \(BenchmarkFormat.fixed(factor, 2)) × floor"
        case .atLeast(let value): return "≥ " + Self.plain(value, unit)
        case .atMost(let value): return "≤ " + Self.plain(value, unit)
        }
    }

    /// Whether the measurement meets the target; nil when a figure it needs is missing.
    public func isMet(by measurement: BenchmarkMeasurement) -> Bool? {
        guard let spool = measurement.spool.value else { return nil }
        switch rule {
        case .atLeastTimesFloor(let factor):
            guard let floor = measurement.floor?.value else { return nil }
            return spool >= factor * floor
        case .atMostTimesFloor(let factor):
            guard let floor = measurement.floor?.value else { return nil }
            return spool <= factor * floor
        case .atLeast(let value): return spool >= value
        case .atMost(let value): return spool <= value
        }
    }

    private static func plain(_ value: Double, _ unit: BenchmarkUnit) -> String {
        let number = value.rounded() == value ? BenchmarkFormat.fixed(value, 0) : BenchmarkFormat.fixed(value, 2)
        return unit == .ratio ? number + " ×" : number + " " + unit.rawValue
    }
}

/// The targets of the performance issue (10), and the earlier issues' targets that the same
/// scenarios measure, in one place. They are evaluated on the measured figures of a full run;
/// a `--quick` run does not evaluate them.
public enum BenchmarkTargets {
    /// Every target, by measurement key.
    public static let all: [BenchmarkTarget] = [
        BenchmarkTarget(
            key: "exec-noop.workers-2", rule: .atLeastTimesFloor(0.85), source: "issue 10",
            remark: "also ≥ 2 × task-spooler: measured by bench/peers.sh, not here"),
        BenchmarkTarget(
            key: "inproc-noop.workers-2", rule: .atLeastTimesFloor(1.2), source: "issue 10", remark: nil),
        BenchmarkTarget(
            key: "durability.durable", rule: .atLeastTimesFloor(0.7), source: "issue 10",
            remark: "floor: the same transitions with one syncfs per 64 jobs"),
        BenchmarkTarget(key: "durability.durable-over-unbatched", rule: .atLeast(5), source: "issue 8", remark: nil),
        BenchmarkTarget(key: "pickup.idle-p50", rule: .atMostTimesFloor(1.1), source: "issue 10", remark: nil),
        BenchmarkTarget(key: "pickup.idle-p99", rule: .atMost(5), source: "issue 10", remark: nil),
        BenchmarkTarget(key: "queued-1m.first-dispatch", rule: .atMost(3), source: "issue 10", remark: nil),
        BenchmarkTarget(key: "queued-1m.peak-rss", rule: .atMost(256), source: "issue 10", remark: nil),
        BenchmarkTarget(key: "queued-1m.stats", rule: .atMost(1), source: "issue 10", remark: nil),
        BenchmarkTarget(key: "split-1m.published", rule: .atMost(2), source: "issue 10", remark: nil),
        BenchmarkTarget(key: "split-1m.show", rule: .atMost(0.2), source: "issue 4", remark: nil),
        BenchmarkTarget(key: "report-1g.peak-rss", rule: .atMost(64), source: "issue 5", remark: nil),
        BenchmarkTarget(
            key: "queue-length.largest-over-smallest", rule: .atLeast(0.8), source: "issue 10",
            remark: "dispatch cost must not grow with queue length"),
    ]

    /// The target of a measurement, if it has one.
    public static func target(for key: String) -> BenchmarkTarget? { all.first { $0.key == key } }
}
