import SpoolJSON
import SpoolKit
import SpoolSystem
import Synchronization

/// `purge-60s`: a sustained run of built-in no-op jobs (relaxed, 2 workers) with retention
/// purging finished jobs as it goes (`"retention": {"done": 1}`, a rescan every second, so each
/// pass removes up to 1,000 jobs older than a second, with their results and logs). A producer
/// thread keeps a steady backlog in `queued/`: every job that finishes is replaced by a new
/// one, so the processor is never idle and never flooded. Measured from the journal's `done`
/// lines: jobs/s in the first and in the last third of the run, which shows what the growing
/// directories and the deletions cost.
enum PurgeScenario {
    static func run(_ context: BenchmarkContext) throws(BenchmarkFailure) {
        let duration = context.sizes.purgeSeconds
        let backlog = context.quick ? 300 : 2_000
        let spool = try BenchmarkSpool.create(
            "purge",
            configuration: #"""
                {"durability": "relaxed", "rescanInterval": 1, "retention": {"done": 1},
                 "handlers": {"noop": {"builtin": "noop"}}}
                """#, in: context)
        try JobFiles.prefill(
            spool.queued, count: backlog, prefix: "seed", contents: ThroughputScenarios.noopJob,
            staging: spool.root + "-staging", context: context)
        let finished = FinishedCounter(tail: JournalTail(spoolRoot: spool.root))
        let journal = JournalTail(spoolRoot: spool.root)
        let stream = JobStream(
            queued: spool.queued, staging: spool.root + "-stream", prefix: "job",
            contents: ThroughputScenarios.noopJob, interval: 0.01
        ) { _ in finished.update() }
        let processor = try context.startSpool(
            ["run", "--spool", spool.root, "--workers", "2", "--quiet"], name: "run-purge")
        try stream.start()
        var firstSeen = 0.0
        do {
            try context.waitUntil("the first job of the sustained run to finish", timeout: 120, interval: 0.01) {
                () throws(BenchmarkFailure) in
                try PickupScenario.ensureRunning(processor)
                return finished.total > 0
            }
            firstSeen = ProcessInfoLite.monotonicNow()
            while ProcessInfoLite.monotonicNow() < firstSeen + duration + 0.2 {
                try PickupScenario.ensureRunning(processor)
                try context.sleep(0.1)
            }
        } catch {
            _ = try? stream.stop()
            throw error
        }
        let made = try stream.stop()
        let outcome = try processor.stop(grace: 60)
        guard outcome.termination == .exited(0) else {
            throw BenchmarkFailure("run-purge: \(outcome.termination)" + processor.errorTail())
        }
        let failed = try spool.count("failed")
        guard failed == 0 else { throw BenchmarkFailure("run-purge: \(failed) job(s) in failed/") }
        let times = journal.newEvents(to: "done", from: "processing").map(\.time).sorted()
        guard let first = times.first else { throw BenchmarkFailure("run-purge: no job finished") }
        let third = duration / 3
        let early = times.filter { $0 < first + third }.count
        let late = times.filter { $0 >= first + 2 * third && $0 < first + duration }.count
        let purged = purgedCount(processor.errorPath)
        context.record(
            BenchmarkMeasurement(
                scenario: "purge-60s", variant: "first third", key: "first-third", unit: .jobsPerSecond,
                spool: .value(Double(early) / third),
                note: "\(BenchmarkFormat.fixed(duration, 0)) s, backlog \(backlog), \(times.count) done, "
                    + "\(backlog + made) queued, retention purged \(purged)"))
        context.record(
            BenchmarkMeasurement(
                scenario: "purge-60s", variant: "last third", key: "last-third", unit: .jobsPerSecond,
                spool: .value(Double(late) / third)))
        context.record(
            BenchmarkMeasurement(
                scenario: "purge-60s", variant: "last / first", key: "last-over-first", unit: .ratio,
                spool: .value(early > 0 ? Double(late) / Double(early) : 0)))
    }

    /// Jobs removed by retention, summed from the processor's "retention: purged N job(s)" lines.
    static func purgedCount(_ errorPath: String) -> Int {
        let text = String(
            decoding: FixtureFiles.read(errorPath, from: 0, maximum: FixtureFiles.size(errorPath)), as: UTF8.self)
        var total = 0
        for line in text.split(separator: "\n") {
            guard let range = line.firstRange(of: "retention: purged ") else { continue }
            total += Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
        }
        return total
    }
}

/// Counts the jobs that reached `done/`, from the journal's new lines, on the producer's
/// thread; the total is read from any thread.
final class FinishedCounter: Sendable {
    private let tail: JournalTail
    private let count = Atomic<Int>(0)

    init(tail: JournalTail) { self.tail = tail }

    var total: Int { count.load(ordering: .relaxed) }

    /// Reads the journal's new lines and returns the total so far.
    func update() -> Int {
        let new = tail.countNewLines(containing: #""to":"done""#)
        return count.add(new, ordering: .relaxed).newValue
    }
}
