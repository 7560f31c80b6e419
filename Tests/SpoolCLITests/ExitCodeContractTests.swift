import Foundation
import SpoolSystem
import Testing

/// The exit-code contract, one row at a time: what each way of ending does to the job.
@Suite("Exit-code contract")
struct ExitCodeContractTests {
    struct Row: Sendable, CustomTestStringConvertible {
        let name: String
        let script: String
        let state: String
        let attempts: Int
        let error: String
        var testDescription: String { name }
    }

    static let rows: [Row] = [
        Row(name: "exit 0", script: "exit 0", state: "done", attempts: 1, error: ""),
        Row(name: "exit 1", script: "exit 1", state: "failed", attempts: 2, error: "exit 1 (attempt 2 of 2)"),
        Row(
            name: "exit 64", script: "exit 64", state: "failed", attempts: 1,
            error: "exit 64 (a permanent failure: not retried)"),
        Row(
            name: "exit 65", script: "exit 65", state: "failed", attempts: 1,
            error: "exit 65 (a permanent failure: not retried)"),
        Row(name: "exit 75", script: "[ $SPOOL_ATTEMPT -ge 3 ] || exit 75", state: "done", attempts: 3, error: ""),
        Row(
            name: "exit 78", script: "exit 78", state: "failed", attempts: 1,
            error: "exit 78 (a permanent failure: not retried)"),
        Row(
            name: "SIGKILL", script: "kill -KILL $$", state: "failed", attempts: 2,
            error: "killed by SIGKILL (attempt 2 of 2)"),
        Row(
            name: "SIGSEGV", script: "kill -SEGV $$", state: "failed", attempts: 2,
            error: "killed by SIGSEGV (attempt 2 of 2)"),
        Row(
            name: "timeout", script: "sleep 30", state: "failed", attempts: 2,
            error: "timed out after 0.3 s (attempt 2 of 2)"),
    ]

    @Test("each row of the table", arguments: rows)
    func row(_ row: Row) throws {
        let spool = try TestSpool(
            configuration: """
                {"killGrace": 0.2, "backoff": {"base": 0.02, "max": 0.05},
                 "handlers": {"h": \(TestSpool.shellHandler(row.script, extra: "\"maxAttempts\": 2, \"timeout\": 0.3"))}}
                """)
        try spool.drop("job.json", #"{"type": "h"}"#)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        let record = try spool.record("job", in: row.state)
        #expect(record["attempts"] as? Int == row.attempts)
        #expect((record["error"] as? String ?? "") == row.error)
    }

    @Test("permanentExitCodes per type replaces the default set")
    func configuredPermanentCodes() throws {
        let spool = try TestSpool(
            configuration: """
                {"backoff": {"base": 0.02, "max": 0.05},
                 "handlers": {"three": \(TestSpool.shellHandler("exit 3", extra: "\"permanentExitCodes\": [3]")),
                              "sixtyfour": \(TestSpool.shellHandler("exit 64", extra: "\"permanentExitCodes\": [3], \"maxAttempts\": 2"))}}
                """)
        try spool.drop("a.json", #"{"type": "three"}"#)
        try spool.drop("b.json", #"{"type": "sixtyfour"}"#)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        #expect(try spool.record("a", in: "failed")["attempts"] as? Int == 1)
        #expect(try spool.record("b", in: "failed")["attempts"] as? Int == 2)
        let bad = try TestSpool(configuration: #"{"handlers": {"x": {"builtin": "noop", "permanentExitCodes": [75]}}}"#)
        #expect(try bad.spool(["run", "--drain"]).status == 78)
    }
}
