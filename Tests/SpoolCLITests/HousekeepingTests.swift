import Foundation
import Glibc
import SpoolSystem
import Testing

/// logs, purge, retention, and retry timing.
@Suite("Housekeeping")
struct HousekeepingTests {
    /// A finished job written straight into a state directory, finished `age` seconds ago.
    static func finishedJob(_ spool: TestSpool, _ id: String, state: String, age: Double, type: String = "ok") throws {
        let finished = Date().addingTimeInterval(-age)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        try """
        {"type": "\(type)", "status": "\(state)", "finishedAt": "\(formatter.string(from: finished))"}
        """.write(toFile: spool.root + "/\(state)/\(id).json", atomically: true, encoding: .utf8)
        try "result of \(id)\n".write(toFile: spool.root + "/results/\(id).out", atomically: true, encoding: .utf8)
        try "log of \(id)\n".write(toFile: spool.root + "/logs/\(id).log", atomically: true, encoding: .utf8)
    }

    @Test("purge --dry-run changes nothing; purge removes only jobs older than the threshold")
    func purge() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"ok": {"builtin": "noop"}}}"#)
        try Self.finishedJob(spool, "old-done", state: "done", age: 8 * 86400)
        try Self.finishedJob(spool, "new-done", state: "done", age: 3600)
        try Self.finishedJob(spool, "old-failed", state: "failed", age: 30 * 86400)
        try Self.finishedJob(spool, "old-other", state: "done", age: 9 * 86400, type: "other")
        let before = Set(spool.names(in: "done") + spool.names(in: "failed") + spool.names(in: "results"))

        let dry = try spool.spool(["purge", "--state", "done", "--older-than", "7d", "--dry-run"])
        #expect(dry.status == 0)
        #expect(dry.standardOutput.contains("would remove done/old-done"))
        #expect(dry.standardOutput.contains("would remove done/old-other"))
        #expect(!dry.standardOutput.contains("new-done") && !dry.standardOutput.contains("old-failed"))
        #expect(Set(spool.names(in: "done") + spool.names(in: "failed") + spool.names(in: "results")) == before)

        let typed = try spool.spool(["purge", "--state", "done", "--older-than", "7d", "--type", "other"])
        #expect(typed.standardOutput.contains("removed done/old-other"))
        let real = try spool.spool(["purge", "--state", "done", "--older-than", "7d"])
        #expect(real.status == 0)
        #expect(spool.jobIDs(in: "done") == ["new-done"])
        #expect(spool.jobIDs(in: "failed") == ["old-failed"])
        #expect(spool.contents("results/old-done.out") == nil && spool.contents("logs/old-done.log") == nil)
        #expect(spool.contents("results/new-done.out") != nil)
        #expect(try spool.spool(["purge", "--state", "queued", "--older-than", "1d"]).status == 64)
        #expect(try spool.spool(["purge", "--state", "done", "--older-than", "soon"]).status == 64)
    }

    @Test("retention in spool.json purges automatically when a processor starts")
    func retention() throws {
        let spool = try TestSpool(
            configuration: """
                {"retention": {"done": "1d", "failed": "30d"}, "handlers": {"ok": {"builtin": "noop"}}}
                """)
        try Self.finishedJob(spool, "stale", state: "done", age: 2 * 86400)
        try Self.finishedJob(spool, "kept-failed", state: "failed", age: 2 * 86400)
        try spool.drop("fresh.json", #"{"type": "ok"}"#)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        #expect(spool.jobIDs(in: "done") == ["fresh"])
        #expect(spool.jobIDs(in: "failed") == ["kept-failed"])
    }

    @Test("logs prints the log; --follow streams it until the job ends")
    func logs() throws {
        let spool = try TestSpool(
            configuration: """
                {"handlers": {"chat": \(TestSpool.shellHandler("echo first >&2; sleep 1; echo second >&2"))}}
                """)
        try spool.drop("c.json", #"{"type": "chat"}"#)
        let processor = try spool.startProcessor()
        #expect(spool.waitUntil(timeout: 30) { spool.contents("logs/c.log")?.contains("stderr: first") == true })
        let follow = try spool.spool(["logs", "c", "--follow"])
        #expect(follow.status == 0)
        #expect(follow.standardOutput.contains("stderr: first"))
        #expect(follow.standardOutput.contains("stderr: second"))
        #expect(follow.standardOutput.contains("done in"))
        #expect(spool.jobIDs(in: "done") == ["c"])
        #expect(spool.stop(processor) == 0)
        #expect(try spool.spool(["logs", "c"]).standardOutput == follow.standardOutput)
        #expect(try spool.spool(["logs", "nope"]).status == 66)
    }

    @Test("retries wait min(max, base × 2^(n-1)) less at most 20 % jitter")
    func backoffTiming() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/starts"
        try """
        {"backoff": {"base": 0.4, "max": 1.2},
         "handlers": {"fail": \(TestSpool.shellHandler("date +%s.%N >> \(trace); exit 1", extra: "\"maxAttempts\": 5"))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("f.json", #"{"type": "fail"}"#)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        let starts = try TestSpool.times(inTrace: trace)
        #expect(starts.count == 5)
        let gaps = zip(starts.dropFirst(), starts).map { $0 - $1 }
        let ceilings = [0.4, 0.8, 1.2, 1.2]
        for (gap, ceiling) in zip(gaps, ceilings) {
            // At least the jittered delay; at most the ceiling plus the time to notice and spawn.
            #expect(gap >= ceiling * 0.8 - 0.01, "gap \(gap) for ceiling \(ceiling)")
            #expect(gap <= ceiling + 0.35, "gap \(gap) for ceiling \(ceiling)")
        }
    }
}
