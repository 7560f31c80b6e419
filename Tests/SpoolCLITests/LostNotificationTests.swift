import Foundation
import Glibc
import SpoolSystem
import Testing

/// Lost notifications (issue 8, group 3), beside the inotify overflow (20,000 drops while the
/// processor is stopped, ProcessingTests) and `--poll` (DispatchBehaviourTests): `queued/`
/// removed and re-created under a running processor loses no job.
@Suite("Lost notifications: queued/ replaced while running")
struct LostNotificationTests {
    @Test("queued/ removed and re-created while the processor runs: jobs dropped in the new one are all processed")
    func queuedReplaced() throws {
        let spool = try TestSpool(configuration: #"{"rescanInterval": 2, "handlers": {"ok": {"builtin": "noop"}}}"#)
        let processor = try spool.startProcessor(["--quiet"])
        try spool.drop("before.json", #"{"type": "ok"}"#)
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "done") == ["before"] })
        // Replaced twice: moved away and re-created, then removed and re-created.
        #expect(rename(spool.root + "/queued", spool.scratch + "/queued.old") == 0)
        #expect(mkdir(spool.root + "/queued", 0o755) == 0)
        let first = try spool.dropMany(200, prefix: "one") { _ in #"{"type": "ok"}"# }
        #expect(spool.waitUntil(timeout: 60) { Set(spool.jobIDs(in: "done")).isSuperset(of: first) })
        #expect(rmdir(spool.root + "/queued") == 0 || errno == ENOTEMPTY)
        #expect(mkdir(spool.root + "/queued", 0o755) == 0 || errno == EEXIST)
        let second = try spool.dropMany(200, prefix: "two") { _ in #"{"type": "ok"}"# }
        #expect(spool.waitUntil(timeout: 60) { Set(spool.jobIDs(in: "done")).isSuperset(of: second) })
        #expect(processor.isRunning)
        #expect(spool.stop(processor) == 0)
        #expect(try spool.spool(["fsck"]).status == 0)
    }
}
