import Foundation
import Glibc
import SpoolSystem
import Testing

/// Notification commands per type: on start, done, failed and progress steps.
@Suite("Notifications")
struct NotificationTests {
    @Test("each event fires its command once, with the job's record on stdin")
    func notificationsFireOncePerEvent() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/notified.txt"
        // The notifier checks its stdin is the job's record before writing the event down.
        let notifier =
            #"["/bin/sh", "-c", "tr -d ' \\n' | grep -q '\"type\":\"steps\"' && echo \"$SPOOL_EVENT $SPOOL_JOB_ID $SPOOL_PROGRESS\" >> \#(trace)"]"#
        let handler = TestSpool.shellHandler(
            "cat >/dev/null; for p in 30 60 100; do echo progress $p >&3; sleep 0.4; done; [ \"$SPOOL_JOB_ID\" != fails ]",
            extra: """
                "maxAttempts": 1, "notify": {"start": \(notifier), "done": \(notifier), "failed": \(notifier),
                "progress": \(notifier), "progressEvery": 50}
                """)
        try #"{"handlers": {"steps": \#(handler)}}"#.write(
            toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("works.json", #"{"type": "steps"}"#)
        try spool.drop("fails.json", #"{"type": "steps"}"#)
        let processor = try spool.startProcessor()
        defer { _ = spool.stop(processor) }
        func lines() -> [String] {
            ((try? String(contentsOfFile: trace, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
                .sorted()
        }
        #expect(spool.waitUntil(timeout: 30) { lines().count >= 8 })
        // Late duplicates would show up here.
        usleep(700_000)
        #expect(
            lines() == [
                "done works 100", "failed fails 100", "progress fails 100", "progress fails 60", "progress works 100",
                "progress works 60", "start fails 0", "start works 0",
            ])
    }

    @Test("a failing or missing notifier is logged and does not change the job's outcome")
    func failingNotifierDoesNotAffectTheJob() throws {
        let spool = try TestSpool(
            configuration: """
                {"handlers": {"ok": {"command": ["/bin/true"], "maxAttempts": 1,
                  "notify": {"start": ["/nonexistent/notifier"], "done": ["/bin/sh", "-c", "cat >/dev/null; exit 7"]}}}}
                """)
        try spool.drop("job.json", #"{"type": "ok"}"#)
        let processor = try spool.startProcessor()
        defer { _ = spool.stop(processor) }
        #expect(spool.waitUntil(timeout: 30) { spool.contents("logs/job.log")?.contains("done notifier") == true })
        #expect(spool.jobIDs(in: "done") == ["job"])
        let log = spool.contents("logs/job.log") ?? ""
        #expect(log.contains("start notifier '/nonexistent/notifier' could not start"))
        #expect(log.contains("done notifier '/bin/sh' failed: exit 7; the job is unaffected"))
    }

    @Test("notify settings are checked when spool.json is read")
    func badSettingsAreRefused() throws {
        let spool = try TestSpool(
            configuration: #"{"handlers": {"ok": {"command": ["/bin/true"], "notify": {"finish": ["x"]}}}}"#)
        let result = try spool.spool(["stats"])
        #expect(result.status == 78)
        #expect(result.standardError.contains("unknown key \"handlers.ok.notify.finish\""))
    }
}
