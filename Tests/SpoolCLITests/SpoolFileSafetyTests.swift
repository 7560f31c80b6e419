import Foundation
import Glibc
import Testing

/// The spool's own files (logs, results, locks, the journal, control files) met as something
/// else (issue 21, F4 and F5): a FIFO never holds a processor or a command, a `results/` or
/// `logs/` swapped for a link while `spool run` runs is never written through, and the
/// processor goes on, saying what it refused.
@Suite("Spool file safety: FIFOs and links in the spool's own places", .serialized)
struct SpoolFileSafetyTests {
    static let handler = TestSpool.shellHandler("echo result-$SPOOL_JOB_ID; echo note from $SPOOL_JOB_ID >&2")

    static func configuration() -> String {
        #"{"handlers": {"work": \#(handler), "child": \#(handler), "parent": {"builtin": "noop"}}}"#
    }

    /// `spool ARGS --spool ROOT` under timeout(1), so a command that hangs fails the test (124).
    static func bounded(_ spool: TestSpool, _ arguments: [String]) throws -> TestSpool.Result {
        try TestSpool.run(["10", TestSpool.binary] + arguments + ["--spool", spool.root], program: "/usr/bin/timeout")
    }

    static func kind(_ path: String) -> mode_t? {
        var status = stat()
        return lstat(path, &status) == 0 ? status.st_mode & S_IFMT : nil
    }

    @Test("a FIFO at logs/ID.log: the job runs without its log, the processor says why and stops at once on SIGTERM")
    func fifoAtLog() throws {
        let spool = try TestSpool(configuration: Self.configuration())
        let log = spool.root + "/logs/f.log"
        #expect(mkfifo(log, 0o644) == 0)
        let processor = try spool.startProcessor()
        try spool.drop("f.json", #"{"type": "work"}"#)
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "done") == ["f"] })
        #expect(spool.contents("results/f.out") == "result-f\n")
        #expect(try spool.record("f", in: "done")["result"] as? String == "results/f.out")
        // Said on the processor's standard error, naming the path; the FIFO itself untouched.
        let errors = spool.processorErrors()
        #expect(errors.contains("'\(log)'") && errors.contains("a FIFO (named pipe), not a regular file"))
        #expect(errors.contains("could not open the log of job f"))
        #expect(Self.kind(log) == S_IFIFO)

        // The commands that read logs and results refuse a FIFO at once, naming it.
        let logs = try Self.bounded(spool, ["logs", "f"])
        #expect(logs.status == 74 && logs.standardError.contains(log) && logs.standardError.contains("FIFO"))
        let show = try Self.bounded(spool, ["show", "f"])
        #expect(show.status == 0 && show.standardOutput.contains("log (logs/f.log): not read:"))
        #expect(unlink(spool.root + "/results/f.out") == 0 && mkfifo(spool.root + "/results/f.out", 0o644) == 0)
        let result = try Self.bounded(spool, ["result", "f"])
        #expect(result.status == 74 && result.standardError.contains(spool.root + "/results/f.out"))
        #expect(result.standardError.contains("FIFO"))

        // The processor is not stuck anywhere: SIGTERM stops it promptly.
        let started = Date()
        #expect(spool.stop(processor, timeout: 10) == 0)
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test("FIFOs at the recovery lock, the day's journal and a control request hold nothing")
    func fifosElsewhere() throws {
        let spool = try TestSpool(configuration: Self.configuration())
        let day = String(ISO8601DateFormatter().string(from: Date()).prefix(10))
        let journal = spool.root + "/events/" + day + ".ndjson"
        for path in [spool.root + "/processors/.recovery.lock", journal, spool.root + "/control/cancel-x-abc.json"] {
            #expect(mkfifo(path, 0o644) == 0, "\(path)")
        }
        try spool.drop("e.json", #"{"type": "work"}"#)
        let run = try Self.bounded(spool, ["run", "--drain"] + TestSpool.rootHandlerArguments)
        #expect(run.status == 0, "\(run.standardError)")
        #expect(spool.jobIDs(in: "done") == ["e"])
        #expect(run.standardError.contains("'\(journal)'") && run.standardError.contains("FIFO"))
        // A recovery that cannot take its lock says why and what to mend.
        #expect(run.standardError.contains("recovery skipped") && run.standardError.contains(".recovery.lock"))
        #expect(try Self.bounded(spool, ["events"]).status != 124)
        #expect(try Self.bounded(spool, ["stats"]).status == 0)
    }

    @Test(
        "results/ and logs/ made links while spool run runs: nothing lands outside, the jobs end, the processor goes on",
        arguments: [false, true])
    func linkedDirectories(withoutOpenat2: Bool) throws {
        let spool = try TestSpool(configuration: Self.configuration())
        let outside = spool.scratch + "/outside"
        for directory in ["res", "logs"] {
            try FileManager.default.createDirectory(
                atPath: outside + "/" + directory, withIntermediateDirectories: true)
        }
        // Children wait (their type held) until the directories are links.
        let hold = spool.root + "/control/hold-type-child"
        #expect(FileManager.default.createFile(atPath: hold, contents: nil))
        let processor = try spool.startProcessor(environment: withoutOpenat2 ? ["SPOOL_NO_OPENAT2": "1"] : [:])
        try spool.drop("first.json", #"{"type": "work"}"#)
        let batch = #"{"items": "ids", "size": 1, "childType": "child"}"#
        try spool.drop("p.json", #"{"type": "parent", "payload": {"ids": [1, 2]}, "batch": \#(batch)}"#)
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "done") == ["first"] })
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "queued/p").count == 2 })
        #expect(spool.contents("results/first.out") == "result-first\n")

        for (name, target) in [("results", "res"), ("logs", "logs")] {
            #expect(rename(spool.root + "/" + name, spool.root + "/" + name + ".real") == 0)
            #expect(symlink(outside + "/" + target, spool.root + "/" + name) == 0)
        }
        try spool.drop("second.json", #"{"type": "work"}"#)
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "done").contains("second") })
        #expect(unlink(hold) == 0)
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "done").contains("p") })
        #expect(spool.jobIDs(in: "done/p").count == 2)

        // Nothing at all was written through the links.
        #expect(try FileManager.default.subpathsOfDirectory(atPath: outside).sorted() == ["logs", "res"])
        // The jobs ended in done/ without a result; each output stays in tmp/, the refusal on stderr.
        #expect(try spool.record("second", in: "done")["result"] == nil)
        #expect(try spool.record("p/0001", in: "done")["result"] == nil)
        let kept = spool.names(in: "tmp").filter { $0.hasPrefix("unpublished~second.") && $0.hasSuffix(".out") }
        #expect(kept.count == 1 && spool.contents("tmp/" + (kept.first ?? "")) == "result-second\n")
        let errors = spool.processorErrors()
        #expect(errors.contains("could not publish the result of job second"))
        #expect(errors.contains("'\(spool.root)/results' is a symbolic link (to '\(outside)/res')"))
        #expect(errors.contains("'\(spool.root)/logs' is a symbolic link (to '\(outside)/logs')"))
        #expect(errors.contains("the output is kept as tmp/unpublished~second."))
        #expect(processor.isRunning)

        // Once the directories are real again, the same processor publishes as before.
        for name in ["results", "logs"] {
            #expect(unlink(spool.root + "/" + name) == 0)
            #expect(rename(spool.root + "/" + name + ".real", spool.root + "/" + name) == 0)
        }
        try spool.drop("third.json", #"{"type": "work"}"#)
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "done").contains("third") })
        #expect(spool.contents("results/third.out") == "result-third\n")
        #expect(spool.contents("logs/third.log")?.contains("stderr: note from third") == true)
        #expect(spool.stop(processor) == 0)
    }

    @Test("a results/ that is a symbolic link is refused at start, saying so and what to do")
    func linkedResultsAtStart() throws {
        let spool = try TestSpool(configuration: Self.configuration())
        let outside = spool.scratch + "/elsewhere"
        #expect(rename(spool.root + "/results", outside) == 0)
        #expect(symlink(outside, spool.root + "/results") == 0)
        for command in [["run", "--drain"], ["list"]] {
            let result = try spool.spool(command)
            #expect(result.status == 66, "\(command)")
            #expect(result.standardError.contains("'results/' is a symbolic link to '\(outside)', not a directory"))
            #expect(result.standardError.contains("rm \(spool.root)/results && mkdir \(spool.root)/results"))
            #expect(!result.standardError.contains("is missing"))
        }
        // A regular file in its place is named as such.
        #expect(unlink(spool.root + "/results") == 0)
        #expect(FileManager.default.createFile(atPath: spool.root + "/results", contents: nil))
        let file = try spool.spool(["list"])
        #expect(file.status == 66 && file.standardError.contains("'results/' is a regular file, not a directory"))
    }
}
