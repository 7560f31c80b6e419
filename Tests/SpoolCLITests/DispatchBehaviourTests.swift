import Foundation
import Glibc
import SpoolSystem
import Testing

@Suite("Dispatch behaviour")
struct DispatchBehaviourTests {
    @Test("--poll finds jobs without inotify")
    func pollMode() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"ok": {"builtin": "noop"}}}"#)
        let processor = try spool.startProcessor(["--poll", "0.2"])
        #expect(spool.waitUntil(timeout: 30) { spool.names(in: "processors").count == 1 })
        try spool.drop("later.json", #"{"type": "ok"}"#)
        #expect(spool.waitUntil(timeout: 10) { spool.jobIDs(in: "done") == ["later"] })
        #expect(spool.stop(processor) == 0)
        #expect(spool.processorErrors().contains("polling every 0.2 s"))
    }

    @Test("a type's concurrency limit holds while other types use the free workers")
    func concurrencyLimit() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/trace"
        let record =
            "echo \"start $(date +%s.%N) $SPOOL_JOB_TYPE\" >> \(trace); sleep 0.2; "
            + "echo \"end $(date +%s.%N) $SPOOL_JOB_TYPE\" >> \(trace)"
        try """
        {"handlers": {"single": \(TestSpool.shellHandler(record, extra: "\"concurrency\": 1")),
                      "free": \(TestSpool.shellHandler(record))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        _ = try spool.dropMany(4, prefix: "single") { _ in #"{"type": "single"}"# }
        _ = try spool.dropMany(4, prefix: "free") { _ in #"{"type": "free"}"# }
        #expect(try spool.spool(["run", "--drain", "--workers", "3"]).status == 0)
        #expect(spool.jobIDs(in: "done").count == 8)
        let events = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n").map { line in
            let parts = line.split(separator: " ")
            return (kind: String(parts[0]), time: Double(parts[1])!, type: String(parts[2]))
        }.sorted { $0.time < $1.time }
        var running: [String: Int] = [:]
        var peak: [String: Int] = [:]
        for event in events {
            running[event.type, default: 0] += event.kind == "start" ? 1 : -1
            peak[event.type] = max(peak[event.type] ?? 0, running[event.type]!)
        }
        #expect(peak["single"] == 1)
        #expect((peak["free"] ?? 0) >= 2)
    }

    @Test("backoff: a failed job waits its notBefore while due jobs behind it run")
    func backoffDoesNotBlockOthers() throws {
        let spool = try TestSpool(configuration: "{}")
        let order = spool.scratch + "/order"
        try """
        {"backoff": {"base": 1, "max": 1},
         "handlers": {"flaky": \(TestSpool.shellHandler("echo $SPOOL_JOB_ID >> \(order); [ $SPOOL_ATTEMPT -ge 2 ]")),
                      "ok": \(TestSpool.shellHandler("echo $SPOOL_JOB_ID >> \(order)"))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("a-flaky.json", #"{"type": "flaky", "priority": "critical"}"#)
        usleep(20_000)
        _ = try spool.dropMany(3, prefix: "b-ok") { _ in #"{"type": "ok"}"# }
        let started = Date()
        #expect(try spool.spool(["run", "--drain", "--workers", "1"]).status == 0)
        let elapsed = Date().timeIntervalSince(started)
        let lines = try String(contentsOfFile: order, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines == ["a-flaky", "b-ok-000000", "b-ok-000001", "b-ok-000002", "a-flaky"])
        // The retry waited its backoff: between 0.8 s and 1 s after the failure (jitter ≤ 20 %).
        #expect(elapsed >= 0.8)
        let record = try spool.record("a-flaky", in: "done")
        #expect(record["attempts"] as? Int == 2)
    }
}

@Suite("Dispatch behaviour: per-type backoff")
struct PerTypeBackoffTests {
    @Test("a type's own backoff replaces the spool's")
    func perTypeBackoff() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/starts"
        try """
        {"backoff": {"base": 30, "max": 30},
         "handlers": {"quick": \(TestSpool.shellHandler("date +%s.%N >> \(trace); [ $SPOOL_ATTEMPT -ge 2 ]",
                extra: "\"backoff\": {\"base\": 0.3, \"max\": 0.3}"))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("q.json", #"{"type": "quick"}"#)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        let starts = try TestSpool.times(inTrace: trace)
        #expect(starts.count == 2)
        #expect(starts[1] - starts[0] >= 0.23 && starts[1] - starts[0] < 5)
        #expect(try spool.record("q", in: "done")["attempts"] as? Int == 2)
    }
}
