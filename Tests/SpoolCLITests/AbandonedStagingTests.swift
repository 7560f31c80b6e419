import Foundation
import Glibc
import Testing

/// Nothing of an attempt outlives it in `tmp/`: its staged start record (`start~ID.*`) and its
/// in-progress result (`result-ID.*`) are gone once the job has moved on, whatever instant its
/// processor (or the recovery that settled it) was killed at. Each path is reproduced by the
/// processor killing itself at a chosen call (`kill-…` rules of `SPOOL_INJECT_FAULTS`).
@Suite("Staging files of an attempt never outlive it", .serialized)
struct AbandonedStagingTests {
    /// A handler that appends `ID ATTEMPT` to `runs` (outside the spool), then prints `ok`.
    static func spool(runs: String, extra: String = "") throws -> TestSpool {
        let spool = try TestSpool(configuration: "{}")
        let handler = TestSpool.shellHandler(#"echo "$SPOOL_JOB_ID $SPOOL_ATTEMPT" >> "\#(runs)"; echo ok"#)
        try """
        {\(extra)"handlers": {"k": \(handler)}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("j1.json", #"{"type": "k"}"#)
        return spool
    }

    /// The attempts' staging files in tmp/.
    static func staging(_ spool: TestSpool) -> [String] {
        spool.names(in: "tmp").filter { $0.hasPrefix("start~") || $0.hasPrefix("result-") }
    }

    static func size(_ spool: TestSpool, _ name: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: spool.root + "/tmp/" + name))?[.size] as? Int) ?? -1
    }

    /// `spool run --drain` with the given rules; returns once no process of what it started is
    /// left (a handler dies with its processor, a few milliseconds later).
    @discardableResult
    static func killedRun(_ spool: TestSpool, _ rules: String) throws -> TestSpool.Result {
        let result = try spool.spool(["run", "--drain", "--quiet"], environment: ["SPOOL_INJECT_FAULTS": rules])
        #expect(spool.waitUntil(timeout: 10) { unheld(spool) })
        return result
    }

    /// Whether no process holds the lock of any file in tmp/ or processors/.
    static func unheld(_ spool: TestSpool) -> Bool {
        let files =
            spool.names(in: "tmp").map { spool.root + "/tmp/" + $0 }
            + spool.names(in: "processors").filter { $0.hasSuffix(".lock") }.map { spool.root + "/processors/" + $0 }
        return files.allSatisfy { ClaimLivenessTests.isFree($0) }
    }

    /// A dead attempt whose start was staged whole and never landed: its processor killed just
    /// before the landing's rename. Leaves `processing/j1.json` as claimed, the staged start
    /// (attempt 1) and the attempt's result file.
    static func attemptKilledBeforeLanding(_ spool: TestSpool) throws {
        try killedRun(spool, "kill-before-rename:/tmp/start~")
        #expect(spool.jobIDs(in: "processing") == ["j1"])
        let files = staging(spool)
        #expect(files.filter { $0.hasPrefix("start~j1.") }.count == 1, "\(files)")
        #expect(files.filter { $0.hasPrefix("result-j1.") }.count == 1, "\(files)")
        let staged = try #require(files.first { $0.hasPrefix("start~") })
        #expect(size(spool, staged) > 0)
    }

    /// The end of every case: the job runs to done/, nothing is left in tmp/, fsck is clean.
    static func expectSettled(_ spool: TestSpool, attempts: Int, runs: String, handlerRuns: ClosedRange<Int>) throws {
        let drain = try spool.spool(["run", "--drain", "--quiet"])
        #expect(drain.status == 0, "\(drain.standardError)")
        #expect(spool.jobIDs(in: "done") == ["j1"])
        let record = try spool.record("j1", in: "done")
        #expect(record["attempts"] as? Int == attempts, "\(record)")
        #expect(spool.contents("results/j1.out") == "ok\n")
        #expect(staging(spool).isEmpty, "\(staging(spool))")
        let lines = ((try? String(contentsOfFile: runs, encoding: .utf8)) ?? "").split(separator: "\n")
        #expect(handlerRuns.contains(lines.count), "\(lines)")
        let fsck = try spool.spool(["fsck"])
        #expect(fsck.status == 0, "\(fsck.standardOutput)")
    }

    @Test("a processor killed between creating its staged start and writing it: recovery removes the empty start")
    func startCutShort() throws {
        let runs = NSTemporaryDirectory() + "runs-\(UUID().uuidString)"
        defer { unlink(runs) }
        let spool = try Self.spool(runs: runs)
        try Self.killedRun(spool, "kill-before-write:/tmp/start~")
        // The case: an empty start record (it parses as nothing), beside the attempt's result.
        #expect(spool.jobIDs(in: "processing") == ["j1"])
        let staged = try #require(Self.staging(spool).first { $0.hasPrefix("start~j1.") })
        #expect(Self.size(spool, staged) == 0)
        #expect(Self.staging(spool).contains { $0.hasPrefix("result-j1.") })
        // The handler never started: the attempt is not counted, and it runs once.
        try Self.expectSettled(spool, attempts: 1, runs: runs, handlerRuns: 1...1)
    }

    @Test("a processor killed between creating its result file and locking it: recovery removes the file")
    func resultNotYetLocked() throws {
        let runs = NSTemporaryDirectory() + "runs-\(UUID().uuidString)"
        defer { unlink(runs) }
        let spool = try Self.spool(runs: runs)
        try Self.killedRun(spool, "kill-before-lock:/tmp/result-")
        #expect(spool.jobIDs(in: "processing") == ["j1"])
        #expect(
            Self.staging(spool).count == 1 && Self.staging(spool)[0].hasPrefix("result-j1."), "\(Self.staging(spool))")
        try Self.expectSettled(spool, attempts: 1, runs: runs, handlerRuns: 1...1)
    }

    @Test(
        "a recovery killed after moving the job on: fsck reports the dead attempt's files, the next pass removes them")
    func recoveryKilledAfterMove() throws {
        let runs = NSTemporaryDirectory() + "runs-\(UUID().uuidString)"
        defer { unlink(runs) }
        let spool = try Self.spool(runs: runs)
        try Self.attemptKilledBeforeLanding(spool)
        // The recovery believes the staged start (attempt 1 counted), moves the job to queued/,
        // and is killed before its clean-up.
        _ = try spool.spool(
            ["fsck", "--repair"], environment: ["SPOOL_INJECT_FAULTS": "kill-after-rename:processing/j1.json -> "])
        #expect(spool.jobIDs(in: "queued") == ["j1"])
        #expect(try spool.record("j1", in: "queued")["attempts"] as? Int == 1)
        let left = Self.staging(spool)
        #expect(left.count == 2, "\(left)")
        // Reported (the job has moved on, no process holds them), then removed by a recovery pass.
        let check = try spool.spool(["fsck"])
        #expect(check.status == 1)
        for name in left {
            #expect(check.standardOutput.contains("abandoned-staging tmp/\(name)"), "\(check.standardOutput)")
        }
        let repair = try spool.spool(["fsck", "--repair"])
        #expect(repair.status == 0, "\(repair.standardOutput)")
        #expect(Self.staging(spool).isEmpty, "\(Self.staging(spool))")
        #expect(spool.jobIDs(in: "queued") == ["j1"])
        try Self.expectSettled(spool, attempts: 2, runs: runs, handlerRuns: 1...2)
    }

    @Test(
        "a recovery killed after rewriting the record, before the move: the next counts the attempt once, removes the start"
    )
    func recoveryKilledAfterRewrite() throws {
        let runs = NSTemporaryDirectory() + "runs-\(UUID().uuidString)"
        defer { unlink(runs) }
        let spool = try Self.spool(runs: runs)
        try Self.attemptKilledBeforeLanding(spool)
        // The rewrite (status queued, attempt 1) lands in processing/; the staged start of attempt 1
        // no longer matches that record (one attempt more than it), so it is not believed again.
        _ = try spool.spool(["fsck", "--repair"], environment: ["SPOOL_INJECT_FAULTS": "kill-after-rename:/tmp/j1."])
        let record = try spool.record("j1", in: "processing")
        #expect(record["status"] as? String == "queued" && record["attempts"] as? Int == 1, "\(record)")
        #expect(Self.staging(spool).contains { $0.hasPrefix("start~j1.") })
        try Self.expectSettled(spool, attempts: 2, runs: runs, handlerRuns: 1...2)
    }

    @Test("a start that fails puts the job back without its result file, even if the processor is killed right after")
    func startFailureThenKill() throws {
        let runs = NSTemporaryDirectory() + "runs-\(UUID().uuidString)"
        defer { unlink(runs) }
        let spool = try Self.spool(runs: runs)
        try Self.killedRun(spool, "write:/tmp/start~,kill-after-rename:processing/j1.json -> ")
        #expect(spool.jobIDs(in: "queued") == ["j1"])
        #expect(Self.staging(spool).isEmpty, "\(Self.staging(spool))")
        try Self.expectSettled(spool, attempts: 1, runs: runs, handlerRuns: 1...1)
    }

    @Test("a result that cannot be published is kept out of the staging names once the job has moved on")
    func unpublishedResult() throws {
        let runs = NSTemporaryDirectory() + "runs-\(UUID().uuidString)"
        defer { unlink(runs) }
        let spool = try Self.spool(runs: runs)
        let run = try Self.killedRun(spool, "rename:/results/")
        #expect(run.standardError.contains("could not publish the result of job j1"), "\(run.standardError)")
        #expect(spool.jobIDs(in: "done") == ["j1"])
        #expect(try spool.record("j1", in: "done")["result"] == nil)
        #expect(Self.staging(spool).isEmpty, "\(Self.staging(spool))")
        // Nothing is lost: the output is kept, under a name no clean-up takes.
        let kept = spool.names(in: "tmp").filter { $0.hasPrefix("unpublished~j1.") && $0.hasSuffix(".out") }
        #expect(kept.count == 1, "\(spool.names(in: "tmp"))")
    }

    @Test("a start whose landing failed: the job runs and ends, and leaves nothing in tmp/")
    func landingFailed() throws {
        let runs = NSTemporaryDirectory() + "runs-\(UUID().uuidString)"
        defer { unlink(runs) }
        let spool = try Self.spool(runs: runs)
        let run = try Self.killedRun(spool, "fsync:/tmp/start~")
        #expect(run.standardError.contains("could not record the start of job j1"), "\(run.standardError)")
        #expect(spool.jobIDs(in: "done") == ["j1"])
        #expect(Self.staging(spool).isEmpty, "\(Self.staging(spool))")
    }

    @Test("a processor stopped by SIGTERM while its job runs leaves nothing in tmp/")
    func shutdown() throws {
        let spool = try TestSpool(
            configuration:
                #"{"shutdownGrace": 0.2, "handlers": {"k": \#(TestSpool.shellHandler("echo partial; sleep 30"))}}"#)
        try spool.drop("j1.json", #"{"type": "k"}"#)
        let processor = try spool.startProcessor(["--quiet"])
        #expect(
            spool.waitUntil(timeout: 20) {
                (spool.contents(Self.staging(spool).first.map { "tmp/" + $0 } ?? "") ?? "") == "partial\n"
            })
        _ = spool.stop(processor)
        #expect(spool.jobIDs(in: "queued") == ["j1"])
        #expect(Self.staging(spool).isEmpty, "\(Self.staging(spool))")
    }

    @Test("a live processor's result file is never taken for abandoned: recovery passes while its job runs")
    func liveAttemptKept() throws {
        let spool = try TestSpool(
            configuration: #"{"handlers": {"k": \#(TestSpool.shellHandler("echo partial; sleep 2; echo rest"))}}"#)
        try spool.drop("j1.json", #"{"type": "k"}"#)
        let processor = try spool.startProcessor(["--quiet"])
        defer { _ = spool.stop(processor) }
        #expect(
            spool.waitUntil(timeout: 20) {
                (try? spool.record("j1", in: "processing"))?["status"] as? String == "running"
            })
        let running = Self.staging(spool)
        #expect(running.count == 1 && running[0].hasPrefix("result-j1."), "\(running)")
        for _ in 0..<3 {
            let repair = try spool.spool(["fsck", "--repair"])
            #expect(repair.status == 0, "\(repair.standardOutput)")
            #expect(!repair.standardOutput.contains("abandoned-staging"))
        }
        #expect(Self.staging(spool) == running)
        #expect(spool.waitUntil(timeout: 20) { spool.jobIDs(in: "done") == ["j1"] })
        #expect(spool.contents("results/j1.out") == "partial\nrest\n")
        #expect(Self.staging(spool).isEmpty, "\(Self.staging(spool))")
    }

    @Test(
        "which staging files a pass removes: only an attempt's, only once its job has left processing/, only unlocked")
    func removalRules() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"k": {"command": ["/bin/true"]}}}"#)
        let tmp = spool.root + "/tmp/"
        // Jobs in processing/ whose claim is alive: this test holds their files' locks.
        var held: [Int32] = []
        defer { for fd in held { close(fd) } }
        for id in ["p1", "result-r1"] {
            let path = spool.root + "/processing/" + id + ".json"
            try #"{"type": "k"}"#.write(toFile: path, atomically: false, encoding: .utf8)
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
            held.append(fd)
        }
        let names = [
            "start~p1.100-200.1.tmp",  // its job is in processing/: kept
            "result-p1.100-200.2.tmp",  // likewise
            "start~gone.100-200.3.tmp",  // its job is in no state: removed
            "result-gone.100-200.4.tmp",  // likewise
            "result-locked.100-200.5.tmp",  // locked by a process (this test): kept
            "result-r1.100-200.6.tmp",  // may be a record rewrite of job result-r1, in processing/: kept
            "result-P+0001.100-200.7.tmp",  // of child P/0001, in no state: removed
            "submit.100-200.8.tmp",  // not an attempt's: kept
            "start~gone.tmp",  // not a staging name: kept
        ]
        for name in names { _ = FileManager.default.createFile(atPath: tmp + name, contents: Data()) }
        try FileManager.default.createSymbolicLink(
            atPath: tmp + "result-link.100-200.9.tmp", withDestinationPath: "/dev/null")
        let lockedFD = open(tmp + "result-locked.100-200.5.tmp", O_RDONLY | O_CLOEXEC)
        #expect(flock(lockedFD, LOCK_EX | LOCK_NB) == 0)
        let removable = ["result-P+0001.100-200.7.tmp", "result-gone.100-200.4.tmp", "start~gone.100-200.3.tmp"]

        let check = try spool.spool(["fsck"])
        let reported = check.standardOutput.split(separator: "\n").filter { $0.hasPrefix("abandoned-staging") }
        #expect(reported.count == removable.count, "\(check.standardOutput)")
        for name in removable { #expect(check.standardOutput.contains("abandoned-staging tmp/\(name)")) }
        #expect(check.status == 1)

        let repair = try spool.spool(["fsck", "--repair"])
        #expect(repair.status == 0, "\(repair.standardOutput)")
        let remaining = Set(spool.names(in: "tmp"))
        #expect(remaining == Set(names + ["result-link.100-200.9.tmp"]).subtracting(removable), "\(remaining)")

        // Once its lock is released, the locked result goes at the next pass.
        close(lockedFD)
        _ = try spool.spool(["fsck", "--repair"])
        #expect(!FileManager.default.fileExists(atPath: tmp + "result-locked.100-200.5.tmp"))
        #expect(FileManager.default.fileExists(atPath: tmp + "result-r1.100-200.6.tmp"))
    }
}
