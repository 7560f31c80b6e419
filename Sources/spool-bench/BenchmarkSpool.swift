import SpoolJSON
import SpoolKit
import SpoolSystem

/// A temporary spool of the benchmark, made with `spool init` by the measured binary, and the
/// job files the benchmark puts in it directly, the way a producer should: written in a staging
/// directory on the same file system, then renamed into `queued/`.
struct BenchmarkSpool {
    let root: String

    var queued: String { root + "/queued" }

    /// `spool init` of a new spool in the work directory, with `configuration` as its spool.json.
    static func create(_ name: String, configuration: String, in context: BenchmarkContext) throws(BenchmarkFailure)
        -> BenchmarkSpool
    {
        let spool = BenchmarkSpool(root: context.newPath(name))
        try context.runSpool(["init", spool.root], name: "init-" + name, timeout: 60)
        try spool.configure(configuration)
        return spool
    }

    /// Replaces spool.json (read by each command when it starts).
    func configure(_ configuration: String) throws(BenchmarkFailure) {
        try systemCall { () throws(SystemError) in
            try FileSystem.writeAtomically(Array((configuration + "\n").utf8), to: root + "/spool.json", durable: false)
        }
    }

    /// The number of entries of a state directory (`done`, `failed`).
    func count(_ state: String) throws(BenchmarkFailure) -> Int {
        try systemCall { () throws(SystemError) in try FixtureFiles.entryCount(root + "/" + state) }
    }

    /// Fails unless exactly `expected` jobs are in `done/` and none in `failed/`.
    func expectDone(_ expected: Int, what: String) throws(BenchmarkFailure) {
        let done = try count("done")
        let failed = try count("failed")
        guard done == expected, failed == 0 else {
            throw BenchmarkFailure(
                "\(what): \(done) job(s) in done/ and \(failed) in failed/, expected \(expected) done")
        }
    }
}

/// Writes job files for a benchmark with the cheapest calls: each file is created and written
/// in a staging directory (open, write, close), and once all are written they are renamed into
/// the queue one by one (rename), so that the measured processor finds a complete queue.
enum JobFiles {
    /// The name of job `index` with `prefix`: `prefix-0000042` (seven digits at least), so that
    /// names sort in the order they were made.
    static func name(_ prefix: String, _ index: Int) -> String {
        let digits = String(index)
        return prefix + "-" + String(repeating: "0", count: max(0, 7 - digits.count)) + digits
    }

    /// Puts `count` jobs named `prefix-N.json` with `contents` into `queuedDirectory` through
    /// `staging` (made here, removed afterwards; on the same file system), then flushes the file
    /// system, so that the set-up's dirty pages are not written back on a measured run's account.
    static func prefill(
        _ queuedDirectory: String, count: Int, prefix: String, contents: [UInt8], staging: String,
        context: BenchmarkContext
    ) throws(BenchmarkFailure) {
        if count >= 100_000 { context.progress("  writing \(count) job files…") }
        try systemCall { () throws(SystemError) in try FileSystem.makeDirectory(staging) }
        for index in 0..<count {
            if index % 10_000 == 0 { try context.checkCancellation() }
            let path = staging + "/" + name(prefix, index) + ".json"
            try systemCall { () throws(SystemError) in try FixtureFiles.create(path, contents: contents) }
        }
        for index in 0..<count {
            if index % 10_000 == 0 { try context.checkCancellation() }
            let file = "/" + name(prefix, index) + ".json"
            try systemCall { () throws(SystemError) in try FixtureFiles.move(staging + file, to: queuedDirectory + file)
            }
        }
        try systemCall { () throws(SystemError) in
            try FileSystem.removeDirectory(staging)
            try FixtureFiles.syncFileSystem(containing: queuedDirectory)
        }
    }
}
