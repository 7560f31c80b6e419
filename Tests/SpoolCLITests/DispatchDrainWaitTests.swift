import Foundation
import Glibc
import SpoolSystem
import Testing

/// `spool run --drain` waits only for queued jobs due within `--drain-wait` seconds (issue 21).
@Suite("Dispatch behaviour: how long a drain waits")
struct DispatchDrainWaitTests {
    static let configuration = #"{"handlers": {"ok": {"builtin": "noop"}}}"#

    /// `spool run --drain ARGS` under `timeout`, so a drain that never ends fails the test
    /// instead of hanging it; returns the result and the seconds it took.
    static func drain(_ spool: TestSpool, _ arguments: [String] = []) throws -> (TestSpool.Result, Double) {
        let started = Date()
        let result = try TestSpool.run(
            ["60", TestSpool.binary, "run", "--drain", "--spool", spool.root] + TestSpool.rootHandlerArguments
                + arguments, program: "/usr/bin/timeout")
        return (result, Date().timeIntervalSince(started))
    }

    /// A `notBefore` `seconds` from now, as the processor writes it.
    static func timestamp(_ seconds: Double) -> String {
        Date(timeIntervalSinceNow: seconds).formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    @Test("a job due in 2030 is left in queued/, named on stderr, and the drain exits 0 at once")
    func farFutureJobIsLeft() throws {
        let spool = try TestSpool(configuration: Self.configuration)
        try spool.drop("now.json", #"{"type": "ok"}"#)
        try spool.drop("later.json", #"{"type": "ok", "notBefore": "2030-01-01T00:00:00Z"}"#)
        let (result, seconds) = try Self.drain(spool)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(seconds < 10)
        #expect(spool.jobIDs(in: "done") == ["now"])
        #expect(spool.jobIDs(in: "queued") == ["later"])
        #expect(spool.names(in: "processing").isEmpty)
        #expect(
            result.standardError.contains(
                "drained: 1 queued job(s) not due within 60 s (--drain-wait) left in queued/, the earliest due at "
                    + "2030-01-01T00:00:00.000Z"), "\(result.standardError)")
        #expect(result.standardOutput.contains("1 done"))
    }

    @Test("jobs due within --drain-wait are waited for and run; later ones are left")
    func waitsForJobsDueSoon() throws {
        let spool = try TestSpool(configuration: Self.configuration)
        try spool.drop("soon.json", #"{"type": "ok", "notBefore": "\#(Self.timestamp(2))"}"#)
        let laterDue = Self.timestamp(9)
        try spool.drop("later.json", #"{"type": "ok", "notBefore": "\#(laterDue)"}"#)
        let (result, seconds) = try Self.drain(spool, ["--drain-wait", "4"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(seconds >= 1.5 && seconds < 5, "\(seconds)")
        #expect(spool.jobIDs(in: "done") == ["soon"])
        #expect(spool.jobIDs(in: "queued") == ["later"])
        #expect(result.standardError.contains("1 queued job(s) not due within 4 s"), "\(result.standardError)")
        #expect(result.standardError.contains(String(laterDue.prefix(19))), "\(result.standardError)")

        // With a wait long enough for it too, the next drain runs it (and says nothing is left).
        let (again, _) = try Self.drain(spool, ["--drain-wait", "3600"])
        #expect(again.status == 0)
        #expect(spool.jobIDs(in: "done") == ["later", "soon"])
        #expect(!again.standardError.contains("drained:"), "\(again.standardError)")
    }

    @Test("--drain-wait 0 runs what is due and leaves every delayed job; --drain-wait needs --drain")
    func zeroAndUsage() throws {
        let spool = try TestSpool(configuration: Self.configuration)
        try spool.drop("now.json", #"{"type": "ok"}"#)
        try spool.drop("soon.json", #"{"type": "ok", "notBefore": "\#(Self.timestamp(5))"}"#)
        let (result, seconds) = try Self.drain(spool, ["--drain-wait", "0"])
        #expect(result.status == 0)
        #expect(seconds < 4)
        #expect(spool.jobIDs(in: "done") == ["now"])
        #expect(spool.jobIDs(in: "queued") == ["soon"])
        #expect(try spool.spool(["run", "--drain-wait", "5"]).status == 64)
        #expect(try spool.spool(["run", "--drain", "--drain-wait", "soon"]).status == 64)
    }
}
