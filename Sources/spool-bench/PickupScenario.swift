import SpoolJSON
import SpoolKit
import SpoolSystem

/// `pickup`: how long a job waits between landing in `queued/` and its handler starting.
/// Landed is CLOCK_REALTIME read just before the job's rename into `queued/`; started is the
/// time the stamp probe (the job's handler) writes as its first act. Probes land one at a time,
/// `pickupInterval` apart, on a processor with 2 workers: idle, then under load (a background
/// stream of stamp jobs at half the processor's measured exec throughput, never more than
/// `maximumWaitingLoad` of them queued and not yet started, so that a processor the stream
/// outruns is kept busy rather than buried). The floor runs the same probe as its command,
/// measured the same way.
enum PickupScenario {
    static let probeJob = Array("{\"type\": \"probe\"}\n".utf8)
    /// Background jobs dropped but not yet started, at most: twice the workers.
    static let maximumWaitingLoad = 4

    /// What one system's pickup run found.
    struct Latency {
        let p50: Double
        let p99: Double
        /// Background jobs per second actually produced (0 when idle).
        let loadRate: Double
    }

    static func run(_ context: BenchmarkContext) throws(BenchmarkFailure) {
        guard let stamp = context.tools.stamp.path else {
            let reason = context.tools.stamp.reason!
            for (key, variant) in [
                ("idle-p50", "idle p50"), ("idle-p99", "idle p99"), ("load-p50", "load p50"),
                ("load-p99", "load p99"),
            ] {
                context.record(
                    BenchmarkMeasurement(
                        scenario: "pickup", variant: variant, key: key, unit: .milliseconds,
                        spool: .unavailable(reason), floor: .unavailable(reason)))
            }
            return
        }
        for underLoad in [false, true] {
            let spool = try measure(context, .spool, stamp: stamp, underLoad: underLoad)
            var floor: (p50: BenchmarkFigure, p99: BenchmarkFigure)
            var floorLoad = ""
            if context.tools.floor.path != nil {
                let figures = try measure(context, .floor, stamp: stamp, underLoad: underLoad)
                floor = (.value(figures.p50), .value(figures.p99))
                floorLoad = ", floor \(Int(figures.loadRate))/s"
            } else {
                floor = (.unavailable(context.tools.floor.reason!), .unavailable(context.tools.floor.reason!))
            }
            let name = underLoad ? "load" : "idle"
            let note =
                underLoad
                ? "background stamp jobs: spool \(Int(spool.loadRate))/s\(floorLoad) (aiming at half the exec "
                    + "throughput, at most \(maximumWaitingLoad) waiting)"
                : "\(context.sizes.pickupProbes) probes, "
                    + BenchmarkFormat.fixed(context.sizes.pickupInterval * 1000, 0) + " ms apart, 2 workers"
            context.record(
                BenchmarkMeasurement(
                    scenario: "pickup", variant: name + " p50", key: name + "-p50", unit: .milliseconds,
                    spool: .value(spool.p50), floor: floor.p50, note: note))
            context.record(
                BenchmarkMeasurement(
                    scenario: "pickup", variant: name + " p99", key: name + "-p99", unit: .milliseconds,
                    spool: .value(spool.p99), floor: floor.p99))
        }
    }

    /// p50 and p99 of the pickup latency, in milliseconds, of one system.
    static func measure(
        _ context: BenchmarkContext, _ system: BenchmarkSystem, stamp: String, underLoad: Bool
    ) throws(BenchmarkFailure) -> Latency {
        let loadRate = underLoad ? try throughput(of: system, context) / 2 : 0
        let name = "pickup-\(system.rawValue)-" + (underLoad ? "load" : "idle")
        let base = context.newPath(name)
        let stamps = StampFile(path: base + ".stamps")
        let queued: String
        let processor: BenchmarkProcess
        switch system {
        case .spool:
            let spool = try BenchmarkSpool.create(
                name + "-spool",
                configuration:
                    #"{"durability": "relaxed", "handlers": {"probe": {"command": ["\#(stamp)", "\#(stamps.path)"]}}}"#,
                in: context)
            queued = spool.queued
            processor = try context.startSpool(
                ["run", "--spool", spool.root, "--workers", "2", "--quiet"], name: "run-" + name)
        case .floor:
            queued = base + "/queued"
            try systemCall { () throws(SystemError) in
                try FileSystem.makeDirectory(base)
                try FileSystem.makeDirectory(queued)
            }
            processor = try context.start(
                FloorTools.arguments(
                    context.tools.floor.path!, workers: 2, mode: .exec, count: 1_000_000_000, directory: base,
                    command: [stamp, stamps.path]), name: name)
        }
        let staging = base + "-staging"
        try systemCall { () throws(SystemError) in try FileSystem.makeDirectory(staging) }

        // Warm-up: the processor is watching once a probe has run.
        for index in 0..<3 {
            let id = "warmup-\(index)"
            try drop(id, staging: staging, queued: queued)
            try context.waitUntil("the warm-up probe \(id) of \(name) to run", timeout: 60, interval: 0.002) {
                () throws(BenchmarkFailure) in
                try ensureRunning(processor)
                return stamps.stamps(prefix: "warmup-")[id] != nil
            }
        }
        let probes = context.sizes.pickupProbes
        for index in 0..<probes {
            let file = "/" + JobFiles.name("probe", index) + ".json"
            try systemCall { () throws(SystemError) in try FixtureFiles.create(staging + file, contents: probeJob) }
        }
        var load: JobStream?
        let loadStarted = ProcessInfoLite.monotonicNow()
        if underLoad {
            let started = StampCounter(path: stamps.path, prefix: "load-")
            let stream = JobStream(
                queued: queued, staging: base + "-load-staging", prefix: "load", contents: probeJob
            ) { elapsed in min(Int(elapsed * loadRate), started.count() + maximumWaitingLoad) }
            try stream.start()
            load = stream
            try context.sleep(0.5)
        }
        var landed: [String: Int64] = [:]
        let begin = ProcessInfoLite.monotonicNow() + 0.01
        for index in 0..<probes {
            let due = begin + Double(index) * context.sizes.pickupInterval
            while true {
                try context.checkCancellation()
                let left = due - ProcessInfoLite.monotonicNow()
                if left <= 0 { break }
                ProcessInfoLite.sleep(seconds: left)
            }
            let id = JobFiles.name("probe", index)
            landed[id] = MachineDescription.realtimeNanoseconds()
            try systemCall { () throws(SystemError) in
                try FixtureFiles.move(staging + "/" + id + ".json", to: queued + "/" + id + ".json")
            }
        }
        let loadJobs = try load?.stop() ?? 0
        let achievedRate = Double(loadJobs) / (ProcessInfoLite.monotonicNow() - loadStarted)
        var started: [String: Int64] = [:]
        try context.waitUntil("every probe of \(name) to run", timeout: 120, interval: 0.02) {
            () throws(BenchmarkFailure) in
            try ensureRunning(processor)
            started = stamps.stamps(prefix: "probe-")
            return started.count >= probes
        }
        let outcome = try processor.stop()
        if system == .spool && outcome.termination != .exited(0) {
            throw BenchmarkFailure("\(name): spool run ended with \(outcome.termination)" + processor.errorTail())
        }
        let latencies = landed.map { id, time in Double(started[id]! - time) / 1_000_000 }
        let p50 = Percentile.nearestRank(0.5, of: latencies)!
        let p99 = Percentile.nearestRank(0.99, of: latencies)!
        if underLoad {
            context.progress(
                "  \(system.rawValue): \(loadJobs) load jobs at \(Int(achievedRate))/s (aim \(Int(loadRate))/s)")
        }
        return Latency(p50: p50, p99: p99, loadRate: underLoad ? achievedRate : 0)
    }

    /// Exec no-op jobs per second of a system with 2 workers: as `exec-noop` measured it, or
    /// measured now on a smaller queue when that scenario did not run.
    static func throughput(of system: BenchmarkSystem, _ context: BenchmarkContext) throws(BenchmarkFailure)
        -> Double
    {
        if let known = context.execThroughput[system] { return known }
        let jobs = min(context.sizes.execJobs, 2_000)
        let rate: Double
        switch system {
        case .spool:
            rate = try ThroughputScenarios.spoolThroughput(
                context, name: "pickup-calibration", jobs: jobs, workers: 2, handler: #"{"command": ["/bin/true"]}"#,
                durability: "relaxed")
        case .floor:
            rate =
                try ThroughputScenarios.floorThroughput(
                    context, name: "pickup-calibration", jobs: jobs, workers: 2, mode: .exec, command: ["/bin/true"]
                ).value ?? 0
        }
        context.execThroughput[system] = rate
        return rate
    }

    private static func drop(_ id: String, staging: String, queued: String) throws(BenchmarkFailure) {
        try systemCall { () throws(SystemError) in
            try FixtureFiles.create(staging + "/" + id + ".json", contents: probeJob)
            try FixtureFiles.move(staging + "/" + id + ".json", to: queued + "/" + id + ".json")
        }
    }

    /// Fails when the processor has already exited.
    static func ensureRunning(_ processor: BenchmarkProcess) throws(BenchmarkFailure) {
        if let outcome = processor.exited() {
            throw BenchmarkFailure("\(processor.name) exited early: \(outcome.termination)" + processor.errorTail())
        }
    }
}
