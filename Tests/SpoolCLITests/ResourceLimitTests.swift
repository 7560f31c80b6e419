import Foundation
import SpoolSystem
import Testing

/// Memory, CPU, descriptor and output limits, each failing the job with the limit named.
@Suite("Resource limits")
struct ResourceLimitTests {
    @Test("a handler allocating past its memory limit is killed with the limit named")
    func memoryLimit() throws {
        // tail keeps its one 300 MB line in memory: the group's resident memory passes 64 MiB.
        let spool = try TestSpool(
            configuration: """
                {"handlers": {"hog": \(TestSpool.shellHandler(
                "head -c 300000000 /dev/zero | tail -n 1 | wc -c",
                extra: "\"maxAttempts\": 1, \"limits\": {\"memory\": \"64 MiB\"}"))}}
                """)
        try spool.drop("hog.json", #"{"type": "hog"}"#)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        let record = try spool.record("hog", in: "failed")
        #expect(record["error"] as? String == "exceeded memory limit 64 MiB")
    }

    @Test("a handler burning CPU past its CPU limit fails with the limit named")
    func cpuLimit() throws {
        let spool = try TestSpool(
            configuration: """
                {"handlers": {"spin": \(TestSpool.shellHandler(
                "while :; do :; done", extra: "\"maxAttempts\": 1, \"timeout\": 60, \"limits\": {\"cpu\": 1}"))}}
                """)
        try spool.drop("spin.json", #"{"type": "spin"}"#)
        let started = Date()
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(try spool.record("spin", in: "failed")["error"] as? String == "exceeded CPU limit 1 s")
    }

    @Test("output past the cap fails the job with the cap named; a job may lower its type's limits")
    func outputCap() throws {
        let spool = try TestSpool(
            configuration: """
                {"handlers": {"chatty": \(TestSpool.shellHandler(
                "yes", extra: "\"maxAttempts\": 1, \"limits\": {\"output\": \"1 MiB\"}"))}}
                """)
        try spool.drop("chatty.json", #"{"type": "chatty"}"#)
        try spool.drop("quieter.json", #"{"type": "chatty", "limits": {"output": "64 KiB"}}"#)
        try spool.drop("louder.json", #"{"type": "chatty", "limits": {"output": "1 GiB"}}"#)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        #expect(try spool.record("chatty", in: "failed")["error"] as? String == "output exceeded 1 MiB")
        #expect(try spool.record("quieter", in: "failed")["error"] as? String == "output exceeded 64 KiB")
        // A job cannot raise its type's ceiling.
        #expect(try spool.record("louder", in: "failed")["error"] as? String == "output exceeded 1 MiB")
    }

    @Test("an open-files limit is in force from the handler's first instruction")
    func openFilesLimit() throws {
        // The shell reads its limit at once: a limit applied after the spawn would race it.
        let spool = try TestSpool(
            configuration: """
                {"handlers": {"fds": {"command": ["/bin/sh", "-c", "ulimit -n"], "limits": {"openFiles": 17}}}}
                """)
        for number in 1...40 { try spool.drop("fds-\(number).json", #"{"type": "fds"}"#) }
        #expect(try spool.spool(["run", "--drain", "--workers", "4"]).status == 0)
        for number in 1...40 { #expect(spool.contents("results/fds-\(number).out") == "17\n") }
    }

    @Test("bad limits are refused, naming the key")
    func badLimits() throws {
        let spool = try TestSpool(
            configuration: #"{"handlers": {"x": {"builtin": "noop", "limits": {"memory": "lots"}}}}"#)
        let result = try spool.spool(["run", "--drain"])
        #expect(result.status == 78)
        #expect(result.standardError.contains("handlers.x.limits.memory"))
        let good = try TestSpool(configuration: #"{"handlers": {"x": {"builtin": "noop"}}}"#)
        try good.drop("j.json", #"{"type": "x", "limits": {"cpu": -1}}"#)
        #expect(try good.spool(["run", "--drain"]).status == 0)
        #expect(good.contents("logs/j.log")?.contains("\"limits.cpu\" must be a positive integer") == true)
    }
}
