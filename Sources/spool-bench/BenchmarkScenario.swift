import SpoolJSON
import SpoolKit
import SpoolSystem

/// How big each scenario is: a full run (the figures the targets are about) or `--quick`, a
/// smoke test of the same code in a few seconds.
struct BenchmarkSizes: Sendable {
    let execJobs: Int
    let inProcessJobs: Int
    let durabilityJobs: Int
    let pickupProbes: Int
    /// Seconds between two pickup probes.
    let pickupInterval: Double
    let queuedJobs: Int
    let splitItems: Int
    let reportBytes: Int
    let purgeSeconds: Double
    let queueLengths: [Int]
    let measuredDispatches: Int

    static let full = BenchmarkSizes(
        execJobs: 20_000, inProcessJobs: 50_000, durabilityJobs: 20_000, pickupProbes: 500, pickupInterval: 0.02,
        queuedJobs: 1_000_000, splitItems: 1_000_000, reportBytes: 1 << 30, purgeSeconds: 60,
        queueLengths: [1_000, 10_000, 100_000, 1_000_000], measuredDispatches: 2_000)

    static let quick = BenchmarkSizes(
        execJobs: 300, inProcessJobs: 500, durabilityJobs: 300, pickupProbes: 20, pickupInterval: 0.02,
        queuedJobs: 10_000, splitItems: 10_000, reportBytes: 4 << 20, purgeSeconds: 3,
        queueLengths: [1_000, 10_000], measuredDispatches: 200)

    /// A count for people: 1k, 10k, 1M.
    static func short(_ count: Int) -> String {
        if count >= 1_000_000 && count % 1_000_000 == 0 { return "\(count / 1_000_000)M" }
        if count >= 1_000 && count % 1_000 == 0 { return "\(count / 1_000)k" }
        return String(count)
    }
}

/// One scenario of `spool bench`: its name (what `--only` takes), what it measures, and the
/// code that measures it and records rows in the context.
struct BenchmarkScenario: Sendable {
    let name: String
    let summary: String
    /// Whether it needs the C floor or the stamp probe compiled.
    let usesFloorTools: Bool
    let run: @Sendable (BenchmarkContext) throws(BenchmarkFailure) -> Void

    /// Every scenario, in the order a run takes them.
    static let all: [BenchmarkScenario] = [
        BenchmarkScenario(
            name: "exec-noop", summary: "throughput of /bin/true jobs, relaxed, 1 and 2 workers", usesFloorTools: true,
            run: { context throws(BenchmarkFailure) in try ThroughputScenarios.execNoop(context) }),
        BenchmarkScenario(
            name: "inproc-noop", summary: "throughput of the built-in no-op, relaxed, 1 and 2 workers",
            usesFloorTools: true,
            run: { context throws(BenchmarkFailure) in try ThroughputScenarios.inProcessNoop(context) }),
        BenchmarkScenario(
            name: "durability", summary: "built-in no-op, 2 workers: durable vs relaxed vs unbatched",
            usesFloorTools: true,
            run: { context throws(BenchmarkFailure) in try ThroughputScenarios.durability(context) }),
        BenchmarkScenario(
            name: "pickup", summary: "landed in queued/ → handler started, p50 and p99, idle and under load",
            usesFloorTools: true, run: { context throws(BenchmarkFailure) in try PickupScenario.run(context) }),
        BenchmarkScenario(
            name: "queued-1m", summary: "a million queued jobs: first dispatch, peak RSS, stats",
            usesFloorTools: true, run: { context throws(BenchmarkFailure) in try LargeQueueScenarios.queued(context) }),
        BenchmarkScenario(
            name: "split-1m", summary: "a parent of a million items split into children; show",
            usesFloorTools: false, run: { context throws(BenchmarkFailure) in try SplitScenario.run(context) }),
        BenchmarkScenario(
            name: "report-1g", summary: "streaming a 1 GiB NDJSON source through a report: MB/s, peak RSS",
            usesFloorTools: false, run: { context throws(BenchmarkFailure) in try ReportScenario.run(context) }),
        BenchmarkScenario(
            name: "purge-60s", summary: "a sustained run with retention purging: first vs last third",
            usesFloorTools: false, run: { context throws(BenchmarkFailure) in try PurgeScenario.run(context) }),
        BenchmarkScenario(
            name: "queue-length", summary: "dispatch rate with 1k, 10k, 100k, 1M jobs queued",
            usesFloorTools: false,
            run: { context throws(BenchmarkFailure) in try LargeQueueScenarios.queueLength(context) }),
    ]
}
