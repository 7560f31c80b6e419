import SpoolJSON
import SpoolKit
import SpoolSystem

/// `split-1m`: a parent of a million items (`radar-1` …, submitted with `spool submit
/// --items-from`, batches of 400) split by `spool run` into children whose type is held, so
/// they do not run (as `bench/batch-split.sh` does). Measured: the submission; from the spawn
/// of `spool run` to `queued/PARENT/` being published (polled every 5 ms), which includes
/// reading and parsing the parent twice; and the wall time of `spool show PARENT` afterwards.
enum SplitScenario {
    static func run(_ context: BenchmarkContext) throws(BenchmarkFailure) {
        let items = context.sizes.splitItems
        let label = BenchmarkSizes.short(items)
        let spool = try BenchmarkSpool.create(
            "split-" + label,
            configuration: #"{"maxJobBytes": 268435456, "handlers": {"lookup": {"builtin": "noop"}}}"#, in: context)
        let itemsFile = context.newPath("split-items.txt")
        var text: [UInt8] = []
        text.reserveCapacity(items * 14)
        for index in 1...items {
            text.append(contentsOf: "radar-".utf8)
            text.append(contentsOf: String(index).utf8)
            text.append(10)
        }
        try systemCall { () throws(SystemError) in try FixtureFiles.create(itemsFile, contents: text) }
        try context.runSpool(["hold", "--spool", spool.root, "--type", "lookup"], name: "hold-lookup", timeout: 60)
        let submit = try context.runSpool(
            [
                "submit", "--spool", spool.root, "--type", "import", "--child-type", "lookup", "--items-from",
                itemsFile, "--batch-size", "400",
            ], name: "submit-split", timeout: 300)
        let id = submit.standardOutput.split(separator: "\n").first.map(String.init) ?? ""
        guard !id.isEmpty else { throw BenchmarkFailure("submit-split printed no job id" + submit.errorTail()) }
        try systemCall { () throws(SystemError) in try FixtureFiles.syncFileSystem(containing: spool.root) }
        context.record(
            BenchmarkMeasurement(
                scenario: "split-1m", variant: "submit", key: "submit", unit: .seconds,
                spool: .value(submit.outcome!.seconds),
                note: "spool submit --items-from of \(label) items"))

        let processor = try context.startSpool(["run", "--spool", spool.root, "--quiet"], name: "run-split-" + label)
        var published: Double?
        try context.waitUntil("the children of \(id) to be published", timeout: context.quick ? 120 : 600) {
            () throws(BenchmarkFailure) in
            try PickupScenario.ensureRunning(processor)
            if FileSystem.isRealDirectory(spool.queued + "/" + id) {
                published = ProcessInfoLite.monotonicNow() - processor.startedMonotonic
            }
            return published != nil
        }
        // The split's own time is in the parent's log ("split N item(s) … in 0.131 s → queued/ID/").
        var splitSeconds: String?
        try context.waitUntil("the split of \(id) to be logged", timeout: 120, interval: 0.01) {
            () throws(BenchmarkFailure) in
            try PickupScenario.ensureRunning(processor)
            splitSeconds = loggedSplitSeconds(spool.root + "/logs/" + id + ".log")
            return splitSeconds != nil
        }
        let outcome = try processor.stop(grace: 60)
        guard outcome.termination == .exited(0) else {
            throw BenchmarkFailure("run-split-\(label): \(outcome.termination)" + processor.errorTail())
        }
        context.record(
            BenchmarkMeasurement(
                scenario: "split-1m", variant: "start → published", key: "published", unit: .seconds,
                spool: .value(published!),
                note: "spawn of spool run → queued/PARENT/ exists; the split itself: \(splitSeconds!) s (its log)"))
        let show = try context.runSpool(["show", "--spool", spool.root, id], name: "show-split", timeout: 300)
        context.record(
            BenchmarkMeasurement(
                scenario: "split-1m", variant: "show", key: "show", unit: .seconds,
                spool: .value(show.outcome!.seconds),
                note: "spool show PARENT, spawn to exit"))
    }

    /// The seconds of the split from the parent's log line, as text; nil until it is written.
    static func loggedSplitSeconds(_ logPath: String) -> String? {
        let text = String(decoding: FixtureFiles.read(logPath, from: 0, maximum: 1 << 20), as: UTF8.self)
        for line in text.split(separator: "\n") where line.contains(" INFO split ") {
            guard let arrow = line.firstRange(of: " s → "), let space = line[..<arrow.lowerBound].lastIndex(of: " ")
            else {
                continue
            }
            return String(line[line.index(after: space)..<arrow.lowerBound])
        }
        return nil
    }
}
