import SpoolJSON
import SpoolKit
import SpoolSystem

/// Throughput: N no-op jobs queued beforehand, then one `spool run --drain` (or one floor run
/// with `-n N`) timed from its spawn to its exit, so start-up, the scan of `queued/` and the
/// drain's last check are counted; jobs/s = N / that time. Every job must end in `done/`.
enum ThroughputScenarios {
    static let noopJob = Array("{\"type\": \"noop\"}\n".utf8)

    /// `exec-noop`: `{"command": ["/bin/true"]}`, relaxed, 1 and 2 workers; the floor spawning
    /// `/bin/true` the same way.
    static func execNoop(_ context: BenchmarkContext) throws(BenchmarkFailure) {
        let jobs = context.sizes.execJobs
        for workers in [1, 2] {
            let spool = try spoolThroughput(
                context, name: "exec-\(workers)w", jobs: jobs, workers: workers,
                handler: #"{"command": ["/bin/true"]}"#, durability: "relaxed")
            let floor = try floorThroughput(
                context, name: "exec-\(workers)w", jobs: jobs, workers: workers, mode: .exec, command: ["/bin/true"])
            if workers == 2 {
                context.execThroughput[.spool] = spool
                context.execThroughput[.floor] = floor.value
            }
            context.record(
                BenchmarkMeasurement(
                    scenario: "exec-noop", variant: workerText(workers), key: "workers-\(workers)",
                    unit: .jobsPerSecond, spool: .value(spool), floor: floor,
                    note: workers == 2 ? "\(jobs) jobs, spawn to exit" : nil))
        }
    }

    /// `inproc-noop`: `{"builtin": "noop"}`, relaxed, 1 and 2 workers; the floor reading each
    /// job file in-process (`-m inproc`).
    static func inProcessNoop(_ context: BenchmarkContext) throws(BenchmarkFailure) {
        let jobs = context.sizes.inProcessJobs
        for workers in [1, 2] {
            let spool = try spoolThroughput(
                context, name: "inproc-\(workers)w", jobs: jobs, workers: workers, handler: #"{"builtin": "noop"}"#,
                durability: "relaxed")
            let floor = try floorThroughput(
                context, name: "inproc-\(workers)w", jobs: jobs, workers: workers, mode: .inProcess)
            context.record(
                BenchmarkMeasurement(
                    scenario: "inproc-noop", variant: workerText(workers), key: "workers-\(workers)",
                    unit: .jobsPerSecond, spool: .value(spool), floor: floor))
        }
    }

    /// `durability`: the built-in no-op with 2 workers under each `"durability"` setting; the
    /// floor does the same transitions with one syncfs(2) per 64 jobs.
    static func durability(_ context: BenchmarkContext) throws(BenchmarkFailure) {
        let jobs = context.sizes.durabilityJobs
        var rates: [String: Double] = [:]
        for mode in ["durable", "relaxed", "unbatched"] {
            rates[mode] = try spoolThroughput(
                context, name: mode, jobs: jobs, workers: 2, handler: #"{"builtin": "noop"}"#, durability: mode)
            var floor: BenchmarkFigure?
            if mode == "durable" {
                floor = try floorThroughput(
                    context, name: "syncfs-64", jobs: jobs, workers: 2, mode: .inProcess, syncEvery: 64)
            }
            context.record(
                BenchmarkMeasurement(
                    scenario: "durability", variant: mode, key: mode, unit: .jobsPerSecond, spool: .value(rates[mode]!),
                    floor: floor,
                    note: mode == "durable" ? "group commit" : nil))
        }
        context.record(
            BenchmarkMeasurement(
                scenario: "durability", variant: "durable / unbatched", key: "durable-over-unbatched", unit: .ratio,
                spool: .value(rates["durable"]! / rates["unbatched"]!)))
        context.record(
            BenchmarkMeasurement(
                scenario: "durability", variant: "durable / relaxed", key: "durable-over-relaxed", unit: .ratio,
                spool: .value(rates["durable"]! / rates["relaxed"]!)))
    }

    static func workerText(_ workers: Int) -> String { workers == 1 ? "1 worker" : "\(workers) workers" }

    /// A generous limit for draining `jobs` jobs: far above any run that works at all.
    static func timeout(jobs: Int) -> Double { 120 + Double(jobs) / 50 }

    /// jobs/s of `spool run --drain --workers W` over `jobs` no-op jobs on a fresh spool.
    static func spoolThroughput(
        _ context: BenchmarkContext, name: String, jobs: Int, workers: Int, handler: String, durability: String
    ) throws(BenchmarkFailure) -> Double {
        let spool = try BenchmarkSpool.create(
            "spool-" + name,
            configuration: #"{"durability": "\#(durability)", "handlers": {"noop": \#(handler)}}"#, in: context)
        try JobFiles.prefill(
            spool.queued, count: jobs, prefix: "job", contents: noopJob, staging: spool.root + "-staging",
            context: context)
        let run = try context.runSpool(
            ["run", "--spool", spool.root, "--drain", "--workers", String(workers), "--quiet"], name: "run-" + name,
            timeout: timeout(jobs: jobs))
        try spool.expectDone(jobs, what: "spool run (\(name))")
        return Double(jobs) / run.outcome!.seconds
    }

    /// jobs/s of the floor over `jobs` no-op jobs in a fresh directory, or why there is none.
    static func floorThroughput(
        _ context: BenchmarkContext, name: String, jobs: Int, workers: Int, mode: FloorTools.Mode,
        syncEvery: Int? = nil, command: [String] = []
    ) throws(BenchmarkFailure) -> BenchmarkFigure {
        guard let floor = context.tools.floor.path else { return .unavailable(context.tools.floor.reason!) }
        let directory = context.newPath("floor-" + name)
        try systemCall { () throws(SystemError) in
            try FileSystem.makeDirectory(directory)
            try FileSystem.makeDirectory(directory + "/queued")
        }
        try JobFiles.prefill(
            directory + "/queued", count: jobs, prefix: "job", contents: noopJob, staging: directory + "-staging",
            context: context)
        let process = try context.start(
            FloorTools.arguments(
                floor, workers: workers, mode: mode, syncEvery: syncEvery, count: jobs, directory: directory,
                command: command), name: "floor-" + name)
        let outcome = try process.waitForSuccess(timeout: timeout(jobs: jobs))
        let done = try systemCall { () throws(SystemError) in try FixtureFiles.entryCount(directory + "/done") }
        guard done == jobs else {
            throw BenchmarkFailure("floor (\(name)): \(done) job(s) in done/, expected \(jobs)")
        }
        return .value(Double(jobs) / outcome.seconds)
    }
}
