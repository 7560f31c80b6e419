import SpoolJSON
import SpoolKit
import SpoolSystem

/// What a figure of `spool bench` counts, and how it is written.
public enum BenchmarkUnit: String, Sendable, Equatable {
    case jobsPerSecond = "jobs/s"
    case dispatchesPerSecond = "dispatches/s"
    case milliseconds = "ms"
    case seconds = "s"
    case mebibytes = "MiB"
    case megabytesPerSecond = "MB/s"
    /// A quotient of two figures of the same run (durable / unbatched, say).
    case ratio = "×"

    /// Whether a larger figure is better (throughput) or worse (latency, memory, time).
    public var higherIsBetter: Bool {
        switch self {
        case .jobsPerSecond, .dispatchesPerSecond, .megabytesPerSecond, .ratio: return true
        case .milliseconds, .seconds, .mebibytes: return false
        }
    }

    /// `value` in this unit, for a table: whole numbers for rates, a few decimals elsewhere.
    public func format(_ value: Double) -> String {
        switch self {
        case .jobsPerSecond, .dispatchesPerSecond: return BenchmarkFormat.fixed(value, 0) + " " + rawValue
        case .milliseconds: return BenchmarkFormat.fixed(value, 2) + " ms"
        case .seconds: return BenchmarkFormat.fixed(value, value < 10 ? 3 : 1) + " s"
        case .mebibytes, .megabytesPerSecond: return BenchmarkFormat.fixed(value, 1) + " " + rawValue
        case .ratio: return BenchmarkFormat.fixed(value, 2) + " ×"
        }
    }
}

/// One figure: a measured value, or why there is none ("n/a (cc not found)"). Never invented.
public enum BenchmarkFigure: Sendable, Equatable {
    case value(Double)
    case unavailable(String)

    /// The value, when there is one.
    public var value: Double? {
        if case .value(let number) = self { return number }
        return nil
    }
}

/// One row of the report: one figure of `spool` (and of the C floor where the floor does the
/// same work), identified by a stable `key` (`exec-noop.workers-2`) that the targets refer to.
public struct BenchmarkMeasurement: Sendable, Equatable {
    /// The scenario's name, as `--only` takes it.
    public let scenario: String
    /// What this row measures within the scenario, for people ("2 workers", "idle p99").
    public let variant: String
    /// A stable identifier, `SCENARIO.VARIANT`, for targets and scripts reading `--json`.
    public let key: String
    /// What the figures count (the floor's is in the same unit).
    public let unit: BenchmarkUnit
    /// The figure of `spool`.
    public var spool: BenchmarkFigure
    /// The C floor's figure for the same work; nil where the floor has no counterpart.
    public var floor: BenchmarkFigure?
    /// How the figure was obtained, or what else to know about it.
    public var note: String?

    /// A row; `key` is the part after the scenario's name (`workers-2`).
    public init(
        scenario: String, variant: String, key: String, unit: BenchmarkUnit, spool: BenchmarkFigure,
        floor: BenchmarkFigure? = nil, note: String? = nil
    ) {
        self.scenario = scenario
        self.variant = variant
        self.key = scenario + "." + key
        self.unit = unit
        self.spool = spool
        self.floor = floor
        self.note = note
    }

    /// spool / floor, when both were measured.
    public var ratioToFloor: Double? {
        guard let spool = spool.value, let floor = floor?.value, floor > 0 else { return nil }
        return spool / floor
    }
}

/// Number formatting without Foundation.
enum BenchmarkFormat {
    /// `value` with `decimals` digits after the point, rounded half away from zero.
    static func fixed(_ value: Double, _ decimals: Int) -> String {
        guard value.isFinite else { return String(value) }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int64((abs(value) * scale).rounded())
        let sign = value < 0 && scaled != 0 ? "-" : ""
        let whole = String(scaled / Int64(scale))
        guard decimals > 0 else { return sign + whole }
        let fraction = String(scaled % Int64(scale))
        return sign + whole + "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }

    /// A JSON number rounded to `decimals` places (JSON has no NaN or infinity: those are null).
    static func json(_ value: Double, decimals: Int = 4) -> JSONValue {
        guard value.isFinite else { return .null }
        return .number(fixed(value, decimals))
    }
}
