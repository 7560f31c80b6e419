import SpoolJSON
import SpoolKit
import SpoolSystem
import Synchronization

/// Set when the benchmark is asked to stop (SIGINT, SIGTERM); every wait looks at it.
final class BenchmarkCancellation: Sendable {
    private let flag = Atomic<Bool>(false)

    var isCancelled: Bool { flag.load(ordering: .relaxed) }

    /// Sets the flag; returns whether it was already set.
    func cancel() -> Bool { flag.exchange(true, ordering: .relaxed) }
}

/// The two systems a scenario measures side by side.
enum BenchmarkSystem: String, Sendable {
    case spool
    case floor
}

/// Everything scenarios share in one `spool bench` run: the sizes, the temporary directory and
/// its unique names, the binaries to run, the measurements recorded so far, and figures one
/// scenario measures for another (the throughput that sets the pickup scenario's load).
/// Used from the benchmark's main thread only.
final class BenchmarkContext {
    let quick: Bool
    let sizes: BenchmarkSizes
    /// The temporary directory holding every spool of the run; removed at the end.
    let workDirectory: String
    let logDirectory: String
    /// The `spool` binary measured: the one beside spool-bench.
    let executable: String
    let tools: FloorTools
    let cancellation: BenchmarkCancellation
    let registry: BenchmarkProcessRegistry
    /// The environment of every child: this process's, without `SPOOL_*` variables.
    let environment: [String]
    private let report: @Sendable (String) -> Void
    private(set) var measurements: [BenchmarkMeasurement] = []
    private var names = 0
    /// Jobs per second of each system with exec no-op jobs and 2 workers, once measured.
    var execThroughput: [BenchmarkSystem: Double] = [:]
    /// The spool of `queued-1m` with its queue left in place, which `queue-length` reuses for
    /// its largest queue rather than writing another million files.
    var largeQueue: (spool: BenchmarkSpool, jobs: Int)?

    init(
        quick: Bool, workDirectory: String, executable: String, tools: FloorTools,
        cancellation: BenchmarkCancellation, registry: BenchmarkProcessRegistry, environment: [String],
        progress: @escaping @Sendable (String) -> Void
    ) throws(BenchmarkFailure) {
        self.quick = quick
        self.sizes = quick ? .quick : .full
        self.workDirectory = workDirectory
        self.logDirectory = workDirectory + "/logs"
        self.executable = executable
        self.tools = tools
        self.cancellation = cancellation
        self.report = progress
        self.registry = registry
        self.environment = environment
        try systemCall { () throws(SystemError) in try FileSystem.makeDirectory(logDirectory) }
    }

    /// Adds a row to the report and says it on the progress stream.
    func record(_ measurement: BenchmarkMeasurement) {
        measurements.append(measurement)
        var line = "  \(measurement.variant): spool " + Self.text(measurement.spool, measurement.unit)
        if let floor = measurement.floor { line += ", floor " + Self.text(floor, measurement.unit) }
        progress(line)
    }

    private static func text(_ figure: BenchmarkFigure, _ unit: BenchmarkUnit) -> String {
        switch figure {
        case .value(let value): return unit.format(value)
        case .unavailable(let reason): return "n/a (\(reason))"
        }
    }

    /// A line on standard error, so that a long run shows where it is.
    func progress(_ line: String) { report(line) }

    /// A new, unused path in the work directory: `WORK/NNN-name`.
    func newPath(_ name: String) -> String {
        names += 1
        let digits = String(names)
        return workDirectory + "/" + String(repeating: "0", count: max(0, 3 - digits.count)) + digits + "-" + name
    }

    /// Fails the scenario when the benchmark has been interrupted.
    func checkCancellation() throws(BenchmarkFailure) {
        if cancellation.isCancelled { throw .interrupted }
    }

    /// Starts a process (the program's path first).
    func start(_ arguments: [String], name: String) throws(BenchmarkFailure) -> BenchmarkProcess {
        try checkCancellation()
        return try BenchmarkProcess(
            arguments, name: name, logDirectory: logDirectory, environment: environment, registry: registry,
            cancellation: cancellation)
    }

    /// Starts `spool ARGUMENTS` with the `spool` measured.
    func startSpool(_ arguments: [String], name: String) throws(BenchmarkFailure) -> BenchmarkProcess {
        // The benchmark's handlers (/bin/true, the stamp probe) run as whoever runs the
        // benchmark; as root that must be asked for, as the floor and the peers run them as root too.
        let asRoot = arguments.first == "run" && UserDatabase.effectiveUserID == 0 ? ["--allow-root-handlers"] : []
        return try start([executable] + arguments + asRoot, name: name)
    }

    /// Runs `spool ARGUMENTS` to its end, which must be exit status 0 within `timeout` seconds.
    @discardableResult
    func runSpool(_ arguments: [String], name: String, timeout: Double) throws(BenchmarkFailure) -> BenchmarkProcess {
        let process = try startSpool(arguments, name: name)
        try process.waitForSuccess(timeout: timeout)
        return process
    }

    /// Sleeps the benchmark's thread, waking early (and failing) when it is interrupted.
    func sleep(_ seconds: Double) throws(BenchmarkFailure) {
        let deadline = ProcessInfoLite.monotonicNow() + seconds
        while true {
            try checkCancellation()
            let left = deadline - ProcessInfoLite.monotonicNow()
            if left <= 0 { return }
            ProcessInfoLite.sleep(seconds: min(left, 0.05))
        }
    }

    /// Polls `condition` every `interval` seconds until it holds; fails with `what` after
    /// `timeout` seconds.
    func waitUntil(
        _ what: String, timeout: Double, interval: Double = 0.005, _ condition: () throws(BenchmarkFailure) -> Bool
    ) throws(BenchmarkFailure) {
        let deadline = ProcessInfoLite.monotonicNow() + timeout
        while true {
            if try condition() { return }
            try checkCancellation()
            if ProcessInfoLite.monotonicNow() >= deadline {
                throw BenchmarkFailure("timed out after \(BenchmarkFormat.fixed(timeout, 0)) s waiting for \(what)")
            }
            ProcessInfoLite.sleep(seconds: interval)
        }
    }
}
