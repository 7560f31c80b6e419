import Foundation
import Glibc
import SpoolSystem
import Testing

/// The processor end to end, on real spools, with real processes, signals and inotify.
@Suite("Processing", .serialized)
struct ProcessingTests {
    @Test("2,000 jobs with the exec handler `true` and 2 workers all end in done/")
    func twoThousandTrueJobs() throws {
        let spool = try TestSpool(
            configuration: """
                {"handlers": {"t": {"command": ["true"]}}}
                """)
        let ids = try spool.dropMany(2000) { _ in #"{"type": "t"}"# }
        let result = try spool.spool(["run", "--workers", "2", "--drain"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(spool.jobIDs(in: "done") == ids)
        #expect(spool.names(in: "queued").isEmpty)
        #expect(spool.names(in: "processing").isEmpty)
        #expect(spool.names(in: "failed").isEmpty)
        #expect(result.standardOutput.contains("2000 done"))
        // Every job has its (empty) result file.
        #expect(spool.names(in: "results").count == 2000)
    }

    @Test("four processors on one spool run each of 5,000 jobs exactly once")
    func fourProcessorsExactlyOnce() throws {
        let spool = try TestSpool(configuration: "{}")
        let log = spool.scratch + "/ran.log"
        try """
        {"handlers": {"append": \(TestSpool.shellHandler("echo \"$SPOOL_JOB_ID\" >> \(log)"))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        let ids = try spool.dropMany(5000) { _ in #"{"type": "append"}"# }
        let processors = try (0..<4).map { _ in try spool.startProcessor(["--drain", "--workers", "2"]) }
        for process in processors { process.waitUntilExit() }
        for process in processors { #expect(process.terminationStatus == 0) }
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 5000)
        #expect(Set(lines).count == 5000)
        #expect(lines.sorted() == ids)
        #expect(spool.jobIDs(in: "done") == ids)
        #expect(spool.names(in: "processing").isEmpty)
        #expect(spool.names(in: "failed").isEmpty)
    }

    @Test("kill -9 of the processor during long jobs: a new processor finishes every job")
    func killNineRecovery() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/trace"
        let script =
            "echo \"start $SPOOL_JOB_ID $(date +%s.%N)\" >> \(trace); sleep 1.5; "
            + "echo \"end $SPOOL_JOB_ID $(date +%s.%N)\" >> \(trace)"
        try """
        {"handlers": {"long": \(TestSpool.shellHandler(script))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        let ids = try spool.dropMany(6) { _ in #"{"type": "long"}"# }
        let first = try spool.startProcessor(["--workers", "3"])
        // Wait for the handlers, not the claims: a job claimed but not started yet is requeued
        // without an attempt counted (the start's commit takes a moment in durable mode).
        #expect(
            spool.waitUntil(timeout: 30) {
                (spool.contents("../trace") ?? "").split(separator: "\n").filter { $0.hasPrefix("start") }.count == 3
            })
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let interrupted = spool.jobIDs(in: "processing")
        #expect(interrupted.count == 3)

        let result = try spool.spool(["run", "--workers", "3", "--drain"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(spool.jobIDs(in: "done") == ids)
        #expect(spool.names(in: "processing").isEmpty)
        #expect(spool.names(in: "queued").isEmpty)
        for id in interrupted {
            let record = try spool.record(id, in: "done")
            // The attempt cut short by kill -9 is counted, then the job ran again.
            #expect(record["attempts"] as? Int == 2, "\(id): \(record)")
            #expect(spool.contents("logs/\(id).log")?.contains("recovered from processor") == true)
        }
        for id in Set(ids).subtracting(interrupted) {
            #expect(try spool.record(id, in: "done")["attempts"] as? Int == 1)
        }
        // The killed processor took its handlers with it (the parent-death signal, and recovery
        // kills what of them was left): each interrupted job started twice and ended once.
        let runs = try Self.runs(fromTrace: trace)
        let starts = (spool.contents("../trace") ?? "").split(separator: "\n").filter { $0.hasPrefix("start") }
        for id in interrupted {
            let intervals = try #require(runs[id])
            #expect(intervals.count == 1, "\(id): \(intervals)")
            #expect(starts.filter { $0.split(separator: " ")[1] == id }.count == 2, "\(id)")
        }
        // The dead processor's lock file was cleaned up; the new one removed its own.
        #expect(spool.names(in: "processors").isEmpty)
    }

    /// Start and end times per job from a trace of "start ID T" / "end ID T" lines.
    static func runs(fromTrace path: String) throws -> [String: [(start: Double, end: Double)]] {
        var starts: [String: [Double]] = [:]
        var result: [String: [(start: Double, end: Double)]] = [:]
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 3, let time = Double(parts[2]) else { continue }
            let id = String(parts[1])
            if parts[0] == "start" {
                starts[id, default: []].append(time)
            } else if let start = starts[id]?.first {
                starts[id]?.removeFirst()
                result[id, default: []].append((start, time))
            }
        }
        return result
    }

    @Test("20,000 jobs dropped while the processor is stopped (inotify overflow) are all processed")
    func inotifyOverflow() throws {
        let spool = try TestSpool(
            configuration: """
                {"workers": 2, "rescanInterval": 3600, "handlers": {"noop": {"builtin": "noop"}}}
                """)
        let processor = try spool.startProcessor()
        // A first job done: the processor watches queued/ and has read it once, so what follows
        // reaches it only as inotify events (its lock file appears before the watch is made).
        let first = try spool.dropMany(1, prefix: "first") { _ in #"{"type": "noop"}"# }
        #expect(spool.waitUntil(timeout: 30) { spool.names(in: "done").count == 1 })
        kill(processor.processIdentifier, SIGSTOP)
        let ids = try spool.dropMany(20_000) { _ in #"{"type": "noop"}"# }
        kill(processor.processIdentifier, SIGCONT)
        #expect(spool.waitUntil(timeout: 300) { spool.names(in: "done").count == 20_001 })
        #expect(spool.stop(processor) == 0)
        #expect(Set(spool.jobIDs(in: "done")) == Set(first + ids))
        #expect(spool.names(in: "queued").isEmpty)
        // The kernel's queue (16,384 events) overflowed and the processor rescanned: with the
        // rescan timer at an hour, only the overflow rescan can have found the rest.
        #expect(spool.processorErrors().contains("inotify lost events"))
    }

    @Test("SIGTERM stops claiming, stops running handlers after the grace period, and requeues their jobs")
    func gracefulShutdown() throws {
        let spool = try TestSpool(
            configuration: """
                {"shutdownGrace": 0.5, "killGrace": 1,
                 "handlers": {"long": \(TestSpool.shellHandler("sleep 30"))}}
                """)
        _ = try spool.dropMany(3) { _ in #"{"type": "long"}"# }
        let processor = try spool.startProcessor(["--workers", "2"])
        #expect(spool.waitUntil(timeout: 30) { spool.names(in: "processing").count == 2 })
        let started = Date()
        #expect(spool.stop(processor) == 0)
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(spool.names(in: "processing").isEmpty)
        #expect(spool.jobIDs(in: "queued").count == 3)
        for id in spool.jobIDs(in: "queued") {
            let record = try spool.record(id, in: "queued")
            let attempts = record["attempts"] as? Int ?? 0
            // Interrupted attempts do not use up the budget.
            #expect(attempts == (record["deferredAttempts"] as? Int ?? 0))
        }
        #expect(spool.names(in: "processors").isEmpty)
    }
}

@Suite("Recovery races")
struct RecoveryRaceTests {
    @Test("four processors starting together recover 300 orphaned jobs once each")
    func concurrentRecovery() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"ok": {"builtin": "noop"}}}"#)
        // Records as a processor leaves them when it dies mid-attempt; its lock file is gone.
        let ids = (0..<300).map { String(format: "orphan-%04d", $0) }
        for id in ids {
            try """
            {"type": "ok", "status": "running", "attempts": 1,
             "processor": {"name": "deadhost-999999-1", "host": "deadhost", "pid": 999999}}
            """.write(toFile: spool.root + "/processing/\(id).json", atomically: true, encoding: .utf8)
        }
        let processors = try (0..<4).map { _ in try spool.startProcessor(["--drain"]) }
        for process in processors { process.waitUntilExit() }
        for process in processors { #expect(process.terminationStatus == 0) }
        #expect(spool.jobIDs(in: "done") == ids)
        #expect(spool.names(in: "failed").isEmpty, "\(spool.names(in: "failed"))")
        #expect(spool.names(in: "processing").isEmpty)
        for id in ids.prefix(20) { #expect(try spool.record(id, in: "done")["attempts"] as? Int == 2) }
    }
}
