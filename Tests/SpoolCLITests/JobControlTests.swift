import Foundation
import Glibc
import SpoolSystem
import Testing

/// cancel, retry, hold and release, from another process than the processor.
@Suite("Job control")
struct JobControlTests {
    @Test("cancel of a running job kills its whole group within grace + 1 s, even a SIGTERM-ignoring one")
    func cancelRunning() throws {
        let spool = try TestSpool(configuration: "{}")
        let pidFile = spool.scratch + "/grandchild.pid"
        try """
        {"killGrace": 1, "handlers": {"stubborn": \(TestSpool.shellHandler(
                "trap '' TERM; sleep 60 & echo $! > \(pidFile); sleep 60"))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("victim.json", #"{"type": "stubborn"}"#)
        let processor = try spool.startProcessor()
        // The shell creates the file before it writes the pid: wait for the pid itself.
        #expect(
            spool.waitUntil(timeout: 30) {
                Int32(
                    ((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "").trimmingCharacters(
                        in: .whitespacesAndNewlines)) != nil
            })
        let grandchild = try #require(
            Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        let requested = Date()
        let cancel = try spool.spool(["cancel", "victim", "--reason", "not needed"])
        #expect(cancel.status == 0)
        #expect(cancel.standardOutput.contains("cancel requested"))
        #expect(spool.waitUntil(timeout: 10) { spool.jobIDs(in: "cancelled") == ["victim"] })
        // Grace (1 s) + 1 s: every process of the job is gone.
        #expect(
            spool.waitUntil(timeout: 2 - Date().timeIntervalSince(requested) + 0.5) {
                kill(grandchild, 0) != 0 || TestProcesses.isZombie(grandchild)
            })
        let record = try spool.record("victim", in: "cancelled")
        #expect((record["error"] as? String)?.hasSuffix(": not needed") == true)
        #expect(record["cancelledBy"] is String)
        // The request is removed once the job's move is durable, a moment after it shows.
        #expect(spool.waitUntil(timeout: 5) { spool.names(in: "control").isEmpty })
        #expect(spool.stop(processor) == 0)
        // Cancelling a finished job is an error, not a silent no-op.
        let again = try spool.spool(["cancel", "victim"])
        #expect(again.status == 65)
        #expect(again.standardError.contains("already finished"))
    }

    @Test("a cancel requested while no processor runs is applied once when one starts; the job never runs")
    func cancelWhileNoProcessor() throws {
        let spool = try TestSpool(configuration: "{}")
        let ran = spool.scratch + "/ran"
        try """
        {"handlers": {"mark": \(TestSpool.shellHandler("echo $SPOOL_JOB_ID >> \(ran)"))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        // Left in processing/ by a processor that died.
        try """
        {"type": "mark", "status": "running", "attempts": 1,
         "processor": {"name": "deadhost-999999-1", "host": "deadhost", "pid": 999999}}
        """.write(toFile: spool.root + "/processing/orphan.json", atomically: true, encoding: .utf8)
        try spool.drop("other.json", #"{"type": "mark"}"#)
        let cancel = try spool.spool(["cancel", "orphan"])
        #expect(cancel.status == 0)
        #expect(spool.names(in: "control").count == 1)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        #expect(spool.jobIDs(in: "cancelled") == ["orphan"])
        #expect(spool.names(in: "control").isEmpty)
        let lines = try String(contentsOfFile: ran, encoding: .utf8).split(separator: "\n")
        #expect(lines == ["other"])
        // A second processor finds nothing left to apply.
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        #expect(spool.jobIDs(in: "cancelled") == ["orphan"])
    }

    @Test("cancel of a queued job is immediate and works with no processor")
    func cancelQueued() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"ok": {"builtin": "noop"}}}"#)
        try spool.drop("q.json", #"{"type": "ok"}"#)
        let result = try spool.spool(["cancel", "q"])
        #expect(result.standardOutput == "q: cancelled\n")
        #expect(spool.jobIDs(in: "cancelled") == ["q"])
        #expect(try spool.spool(["cancel", "nope"]).status == 66)
    }

    @Test("retry of a failed job runs it again and keeps the earlier attempt in history")
    func retryFailed() throws {
        let spool = try TestSpool(configuration: "{}")
        let flag = spool.scratch + "/fixed"
        try """
        {"handlers": {"needsfix": \(TestSpool.shellHandler("[ -e \(flag) ] || { echo broken >&2; exit 4; }", extra: "\"maxAttempts\": 1"))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("r.json", #"{"type": "needsfix", "payload": {"keep": 1}}"#)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        #expect(try spool.record("r", in: "failed")["error"] as? String == "exit 4")
        #expect(try spool.spool(["retry", "r"]).status == 0)
        let queued = try spool.record("r", in: "queued")
        #expect(queued["error"] == nil && queued["progress"] == nil && queued["startedAt"] == nil)
        #expect(queued["finishedAt"] == nil && queued["attempts"] == nil)
        _ = FileManager.default.createFile(atPath: flag, contents: nil)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        let done = try spool.record("r", in: "done")
        #expect(done["attempts"] as? Int == 1)
        let history = try #require(done["history"] as? [[String: Any]])
        #expect(history.count == 1)
        #expect(history[0]["state"] as? String == "failed")
        #expect(history[0]["error"] as? String == "exit 4")
        #expect(history[0]["exitCode"] as? Int == 4)
        #expect((done["payload"] as? [String: Any])?["keep"] as? Int == 1)
        #expect(try spool.spool(["retry", "r"]).status == 65)
    }

    @Test("retry --all-failed [--type] requeues exactly the failed jobs asked for")
    func retryAllFailed() throws {
        let spool = try TestSpool(
            configuration: """
                {"handlers": {"a": \(TestSpool.shellHandler("exit 1", extra: "\"maxAttempts\": 1")),
                              "b": \(TestSpool.shellHandler("exit 1", extra: "\"maxAttempts\": 1"))}}
                """)
        _ = try spool.dropMany(2, prefix: "a") { _ in #"{"type": "a"}"# }
        _ = try spool.dropMany(2, prefix: "b") { _ in #"{"type": "b"}"# }
        try spool.drop("junk.json", "not json")
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        #expect(try spool.spool(["retry", "--all-failed", "--type", "a"]).status == 0)
        #expect(spool.jobIDs(in: "queued") == ["a-000000", "a-000001"])
        #expect(try spool.spool(["retry", "--all-failed"]).status == 0)
        #expect(spool.jobIDs(in: "queued").count == 4)
        #expect(spool.jobIDs(in: "failed") == ["junk"])
    }

    @Test("held jobs and held types are never claimed; release makes them run")
    func holdAndRelease() throws {
        let spool = try TestSpool(
            configuration: """
                {"handlers": {"ok": {"builtin": "noop"}, "paused": {"builtin": "noop"}}}
                """)
        try spool.drop("h.json", #"{"type": "ok"}"#)
        #expect(try spool.spool(["hold", "h"]).status == 0)
        #expect(spool.jobIDs(in: "held") == ["h"])
        #expect(try spool.spool(["hold", "--type", "paused"]).status == 0)
        _ = try spool.dropMany(3, prefix: "p") { _ in #"{"type": "paused"}"# }
        try spool.drop("free.json", #"{"type": "ok"}"#)
        let processor = try spool.startProcessor()
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "done") == ["free"] })
        usleep(500_000)
        #expect(spool.jobIDs(in: "held") == ["h"])
        #expect(spool.jobIDs(in: "queued").count == 3)
        #expect(spool.processorErrors().contains("type paused is held"))
        #expect(try spool.spool(["release", "h"]).status == 0)
        #expect(try spool.spool(["release", "--type", "paused"]).status == 0)
        #expect(spool.waitUntil(timeout: 10) { spool.jobIDs(in: "done").count == 5 })
        #expect(spool.stop(processor) == 0)
        // A drain run does not wait for a held type.
        #expect(try spool.spool(["hold", "--type", "paused"]).status == 0)
        try spool.drop("later.json", #"{"type": "paused"}"#)
        let drained = try spool.spool(["run", "--drain"])
        #expect(drained.status == 0)
        #expect(spool.jobIDs(in: "queued") == ["later"])
        #expect(try spool.spool(["hold", "free"]).status == 65)
    }
}
