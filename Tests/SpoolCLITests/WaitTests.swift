import Foundation
import Glibc
import SpoolSystem
import Testing

/// `spool wait` and `spool submit --wait`: exit statuses, and no busy loop.
@Suite("Waiting for jobs")
struct WaitTests {
    static let configuration = """
        {"handlers": {"ok": \(TestSpool.shellHandler("cat >/dev/null; echo result-of-ok")),
                      "bad": \(TestSpool.shellHandler("exit 3", extra: "\"maxAttempts\": 1")),
                      "slow": \(TestSpool.shellHandler("sleep 30"))}}
        """

    func submit(_ spool: TestSpool, _ type: String) throws -> String {
        let result = try spool.spool(["submit", "--type", type])
        #expect(result.status == 0)
        return result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("exit 0 when all are done, 1 when one failed or was cancelled, 75 on timeout, 66 for no such job")
    func exitStatuses() throws {
        let spool = try TestSpool(configuration: Self.configuration)
        let good = try submit(spool, "ok")
        let bad = try submit(spool, "bad")
        let cancelled = try submit(spool, "ok")
        #expect(try spool.spool(["cancel", cancelled]).status == 0)
        let timedOut = try spool.spool(["wait", good, "--timeout", "0.3"])
        #expect(timedOut.status == 75)
        #expect(timedOut.standardError.contains(good))

        let processor = try spool.startProcessor()
        let allDone = try spool.spool(["wait", good, "--timeout", "60"])
        #expect(allDone.status == 0)
        #expect(allDone.standardError.isEmpty)
        let failed = try spool.spool(["wait", good, bad, "--timeout", "60"])
        #expect(failed.status == 1)
        #expect(failed.standardError.contains("job \(bad) failed"))
        let wasCancelled = try spool.spool(["wait", cancelled])
        #expect(wasCancelled.status == 1)
        #expect(wasCancelled.standardError.contains("cancelled"))
        #expect(try spool.spool(["wait", "no-such-job"]).status == 66)
        #expect(try spool.spool(["wait"]).status == 64)

        // A running job cancelled during the wait ends it with 1.
        let slow = try submit(spool, "slow")
        #expect(spool.waitUntil { spool.jobIDs(in: "processing").contains(slow) })
        let waiting = Thread.detachNewThreadAndReturn { try? spool.spool(["wait", slow, "--timeout", "60"]) }
        #expect(try spool.spool(["cancel", slow]).status == 0)
        #expect(waiting.value()??.status == 1)

        // submit --wait prints the result path, or the result with --print.
        let path = try spool.spool(["submit", "--type", "ok", "--wait", "--wait-timeout", "60"])
        #expect(path.status == 0)
        #expect(path.standardOutput.hasPrefix(spool.root + "/results/"))
        #expect(path.standardError.contains("submitted"))
        let printed = try spool.spool(["submit", "--type", "ok", "--wait", "--print"])
        #expect(printed.standardOutput == "result-of-ok\n")
        #expect(try spool.spool(["submit", "--type", "bad", "--wait"]).status == 1)
        _ = spool.stop(processor)
    }

    @Test("a wait sleeps in the kernel: 5 s of waiting use under 0.05 s of CPU")
    func waitDoesNotSpin() throws {
        let spool = try TestSpool(configuration: Self.configuration)
        let id = try submit(spool, "ok")
        // Spawned and reaped here with wait4, for the child's own rusage.
        var pid: pid_t = 0
        let arguments = [TestSpool.binary, "wait", id, "--timeout", "5", "--spool", spool.root]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        #expect(posix_spawn(&pid, TestSpool.binary, nil, nil, &argv, environ) == 0)
        var status: Int32 = 0
        var usage = rusage()
        var reaped: pid_t
        repeat { reaped = wait4(pid, &status, 0, &usage) } while reaped == -1 && errno == EINTR
        #expect(reaped == pid)
        #expect((status >> 8) & 0xff == 75)
        let cpu =
            Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1_000_000
        #expect(cpu < 0.05, "spool wait used \(cpu) s of CPU in 5 s")
    }
}

extension Thread {
    /// Runs `body` on a new thread; `value()` blocks until it has returned.
    static func detachNewThreadAndReturn<T: Sendable>(_ body: @escaping @Sendable () -> T) -> ThreadResult<T> {
        let result = ThreadResult<T>()
        Thread { result.finish(body()) }.start()
        return result
    }
}

final class ThreadResult<T: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var stored: T?
    func finish(_ value: T) {
        stored = value
        done.signal()
    }
    func value() -> T? {
        done.wait()
        return stored
    }
}
