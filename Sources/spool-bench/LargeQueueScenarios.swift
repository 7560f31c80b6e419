import SpoolJSON
import SpoolKit
import SpoolSystem

/// Scenarios on long queues: what a processor does when it starts in front of a million
/// queued jobs (`queued-1m`), and whether dispatching gets slower as the queue grows
/// (`queue-length`).
enum LargeQueueScenarios {
    static let probeJob = Array("{\"type\": \"probe\"}\n".utf8)

    /// `queued-1m`: jobs queued beforehand, whose handler is the stamp probe. Measured: from
    /// the spawn of `spool run` to the first stamp (the first handler start); the processor's
    /// peak RSS once it has read the whole queue (dispatch starts before that: the full run
    /// waits for its "indexed N queued job(s)" line, the quick one half a second), as its VmHWM
    /// just before SIGTERM or wait4's ru_maxrss, whichever is larger; the wall time of
    /// `spool stats` on that spool afterwards.
    static func queued(_ context: BenchmarkContext) throws(BenchmarkFailure) {
        let count = context.sizes.queuedJobs
        let label = BenchmarkSizes.short(count)
        let stamps = StampFile(path: context.newPath("queued-stamps.txt"))
        let stamp = context.tools.stamp.path
        let handler = stamp.map { #"{"command": ["\#($0)", "\#(stamps.path)"]}"# } ?? #"{"builtin": "noop"}"#
        let spool = try BenchmarkSpool.create(
            "queued-" + label, configuration: #"{"handlers": {"probe": \#(handler)}}"#, in: context)
        try JobFiles.prefill(
            spool.queued, count: count, prefix: "job", contents: probeJob, staging: spool.root + "-staging",
            context: context)
        let journal = JournalTail(spoolRoot: spool.root)
        let processor = try context.startSpool(["run", "--spool", spool.root, "--quiet"], name: "run-queued-" + label)
        var first: Int64?
        try context.waitUntil("the first dispatch among \(label) queued jobs", timeout: context.quick ? 120 : 600) {
            () throws(BenchmarkFailure) in
            try PickupScenario.ensureRunning(processor)
            if stamp != nil {
                first = stamps.first()
            } else {
                first = journal.newEvents(to: "processing", from: "queued").first.map { Int64($0.time * 1e9) }
            }
            return first != nil
        }
        try context.sleep(0.5)
        if !context.quick {
            try context.waitUntil("the whole queue of \(label) jobs indexed", timeout: 600, interval: 0.1) {
                () throws(BenchmarkFailure) in
                try PickupScenario.ensureRunning(processor)
                return processor.standardError.contains("indexed ")
            }
        }
        let sampled = processor.peakResidentBytes ?? 0
        let outcome = try processor.stop(grace: 60)
        guard outcome.termination == .exited(0) else {
            throw BenchmarkFailure("run-queued-\(label): \(outcome.termination)" + processor.errorTail())
        }
        let startToFirst = Double(first! - processor.startedRealtimeNanoseconds) / 1e9
        context.record(
            BenchmarkMeasurement(
                scenario: "queued-1m", variant: "first dispatch", key: "first-dispatch", unit: .seconds,
                spool: .value(startToFirst),
                note: "\(label) queued; spawn of spool run → "
                    + (stamp != nil
                        ? "first stamp" : "first claim in the journal (no stamp probe: \(context.tools.stamp.reason!))")
            ))
        context.record(
            BenchmarkMeasurement(
                scenario: "queued-1m", variant: "peak RSS", key: "peak-rss", unit: .mebibytes,
                spool: .value(Double(max(sampled, outcome.maximumResidentBytes)) / 1_048_576)))
        let stats = try context.runSpool(["stats", "--spool", spool.root], name: "stats-queued-" + label, timeout: 600)
        context.record(
            BenchmarkMeasurement(
                scenario: "queued-1m", variant: "stats", key: "stats", unit: .seconds,
                spool: .value(stats.outcome!.seconds), note: "spool stats, spawn to exit"))
        context.largeQueue = (spool, count)
    }

    /// `queue-length`: for each queue length, that many built-in no-op jobs queued beforehand
    /// (relaxed, 2 workers), and the rate of the first dispatches (at most half the queue, so
    /// it never runs dry) once the processor has read the whole queue (its "indexed" line, for
    /// 10,000 jobs or more: before that, dispatch shares the CPU with the reading): (n − 1) /
    /// (time of the n-th claim − time of the first), from the claim lines of the event journal
    /// (millisecond timestamps written by the processor).
    static func queueLength(_ context: BenchmarkContext) throws(BenchmarkFailure) {
        var rates: [(label: String, rate: Double)] = []
        for count in context.sizes.queueLengths {
            let label = BenchmarkSizes.short(count)
            let spool: BenchmarkSpool
            if let large = context.largeQueue, large.jobs == count {
                // The queue of queued-1m, minus the few jobs that scenario ran.
                spool = large.spool
                context.largeQueue = nil
            } else {
                spool = try BenchmarkSpool.create("queue-" + label, configuration: "{}", in: context)
                try JobFiles.prefill(
                    spool.queued, count: count, prefix: "job", contents: probeJob, staging: spool.root + "-staging",
                    context: context)
            }
            try spool.configure(#"{"durability": "relaxed", "handlers": {"probe": {"builtin": "noop"}}}"#)
            let dispatches = max(2, min(context.sizes.measuredDispatches, count / 2))
            var claims: [Double] = []
            // The processor prints its "indexed" line when it finds 10,000 jobs or more (or reads
            // for a second or more); below that its read is over at once. Counted now, as the
            // queue queued-1m leaves behind is a little shorter than it was.
            var queuedNow = 0
            try? FileSystem.forEachEntry(in: spool.queued) { _ in
                queuedNow += 1
                return true
            }
            var readSince: Double? = queuedNow < 10_000 ? 0 : nil
            let journal = JournalTail(spoolRoot: spool.root)
            let processor = try context.startSpool(
                ["run", "--spool", spool.root, "--workers", "2", "--quiet"], name: "run-queue-" + label)
            try context.waitUntil(
                "\(dispatches) dispatches among \(label) queued jobs", timeout: context.quick ? 120 : 900,
                interval: 0.02
            ) {
                () throws(BenchmarkFailure) in
                try PickupScenario.ensureRunning(processor)
                if readSince == nil, processor.standardError.contains("indexed ") {
                    readSince = ProcessInfoLite.now()
                }
                let events = journal.newEvents(to: "processing", from: "queued").map(\.time)
                if let readSince { claims += events.filter { $0 >= readSince } }
                return claims.count >= dispatches
            }
            let outcome = try processor.stop(grace: 60)
            guard outcome.termination == .exited(0) else {
                throw BenchmarkFailure("run-queue-\(label): \(outcome.termination)" + processor.errorTail())
            }
            let times = claims.sorted().prefix(dispatches)
            let rate = Double(dispatches - 1) / max(times.last! - times.first!, 0.001)
            rates.append((label, rate))
            context.record(
                BenchmarkMeasurement(
                    scenario: "queue-length", variant: label + " queued", key: label, unit: .dispatchesPerSecond,
                    spool: .value(rate),
                    note: count == context.sizes.queueLengths.first
                        ? "first \(dispatches) dispatches (half the queue at most), journal claim times" : nil))
        }
        if let smallest = rates.first, let largest = rates.last, rates.count > 1 {
            context.record(
                BenchmarkMeasurement(
                    scenario: "queue-length", variant: "\(largest.label) / \(smallest.label)",
                    key: "largest-over-smallest", unit: .ratio, spool: .value(largest.rate / smallest.rate)))
        }
    }
}
