import Foundation
import Glibc
import SpoolSystem
import Testing

/// What cancel, retry and hold say when they cannot act (issue 21): a finished job is named as
/// finished with what can be done instead, and a job whose file another process holds (a
/// processor claiming it) is waited for a moment, then reported as being claimed (exit 75).
@Suite("Messages of cancel, retry and hold")
struct JobRequestMessageTests {
    static let configuration = #"{"handlers": {"noop": {"builtin": "noop"}}}"#

    /// Holds an exclusive flock on a job file, as a processor's claim does, until `release`.
    final class HeldFile: @unchecked Sendable {
        let descriptor: Int32
        init(_ path: String) throws {
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0, flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
                throw TestFailure("cannot lock \(path): errno \(errno)")
            }
        }
        func release() { close(descriptor) }
        /// Releases the lock from another thread after `seconds`.
        func release(after seconds: Double) {
            Thread {
                usleep(UInt32(seconds * 1_000_000))
                self.release()
            }.start()
        }
    }

    @Test("cancel or retry of a finished job says it has finished and what to do instead (65)")
    func finishedJob() throws {
        let spool = try TestSpool(configuration: Self.configuration)
        try spool.drop("ok.json", #"{"type": "noop"}"#)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        let cancel = try spool.spool(["cancel", "ok"])
        #expect(cancel.status == 65)
        #expect(
            cancel.standardError
                == "spool: Job 'ok' is done: it has already finished, so there is nothing to cancel; "
                + "'spool show ok' shows it, 'spool result ok' prints its result\n")
        let retry = try spool.spool(["retry", "ok"])
        #expect(retry.status == 65)
        #expect(
            retry.standardError.contains(
                "Job 'ok' is done: it succeeded, and only failed or cancelled jobs can be retried"))
        #expect(!retry.standardError.contains("not a valid job"))

        try spool.drop("gone.json", #"{"type": "noop"}"#)
        #expect(try spool.spool(["cancel", "gone"]).status == 0)
        let again = try spool.spool(["cancel", "gone"])
        #expect(again.status == 65)
        #expect(again.standardError.contains("Job 'gone' is cancelled: it has already finished"))
        #expect(again.standardError.contains("'spool retry gone' runs it again"))
        let hold = try spool.spool(["hold", "gone"])
        #expect(hold.status == 65)
        #expect(hold.standardError == "spool: Job 'gone' is cancelled: only queued jobs can be held\n")
    }

    @Test("cancel, then retry, each wait for a claim's lock held half a second, then act")
    func waitForClaim() throws {
        let spool = try TestSpool(configuration: Self.configuration)
        try spool.drop("busy.json", #"{"type": "noop"}"#)
        for (command, from, to) in [("cancel", "queued", "cancelled"), ("retry", "cancelled", "queued")] {
            let held = try HeldFile(spool.root + "/\(from)/busy.json")
            held.release(after: 0.5)
            let started = Date()
            let result = try spool.spool([command, "busy"])
            #expect(result.status == 0, "\(command): \(result.standardError)")
            #expect(result.standardOutput == "busy: \(to)\n")
            #expect(Date().timeIntervalSince(started) >= 0.4)
            #expect(spool.jobIDs(in: to) == ["busy"])
        }
    }

    @Test("a lock held longer: 'being claimed by a processor; try again', exit 75, after about 2 s")
    func lockHeldLonger() throws {
        let spool = try TestSpool(configuration: Self.configuration)
        try spool.drop("busy.json", #"{"type": "noop"}"#)
        try spool.drop("done-then.json", #"{"type": "noop"}"#)
        #expect(try spool.spool(["cancel", "done-then"]).status == 0)
        let queued = try HeldFile(spool.root + "/queued/busy.json")
        let cancelled = try HeldFile(spool.root + "/cancelled/done-then.json")
        defer {
            queued.release()
            cancelled.release()
        }
        for (arguments, id) in [
            (["cancel", "busy"], "busy"), (["retry", "done-then"], "done-then"), (["hold", "busy"], "busy"),
        ] {
            let started = Date()
            let result = try spool.spool(arguments)
            let waited = Date().timeIntervalSince(started)
            #expect(result.status == 75, "\(arguments): \(result.standardError)")
            #expect(result.standardError == "spool: Job '\(id)' is being claimed by a processor; try again\n")
            #expect(waited >= 1.9 && waited < 10, "\(arguments): \(waited) s")
        }
        #expect(spool.jobIDs(in: "queued") == ["busy"])
        #expect(spool.jobIDs(in: "cancelled") == ["done-then"])
    }
}
