import Foundation
import Glibc
import SpoolSystem
import Testing

/// Type-level rules and job-level `after`: dependents made exactly once, chains, cycles, waits.
@Suite("Dependencies")
struct DependencyTests {
    /// A handler that appends its job id to `trace` and exits 1 when the payload says "fail".
    static func tracing(_ trace: String) -> String {
        TestSpool.shellHandler(
            "grep -q '\"fail\"' && exit 1; echo \"$SPOOL_JOB_ID\" >> \(trace); exit 0", extra: "\"maxAttempts\": 1")
    }

    static func drain(_ spool: TestSpool, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try spool.spool(["run", "--drain"])
        #expect(result.status == 0, "spool run --drain: \(result.standardError)", sourceLocation: sourceLocation)
    }

    static func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test("A → B on success: B made once when A succeeds, never when it fails; onCompletion: either way")
    func successAndCompletion() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/trace"
        try """
        {"handlers": {"a": \(Self.tracing(trace)), "b": \(Self.tracing(trace)), "c": \(Self.tracing(trace))},
         "rules": [
           {"name": "b-on-success", "after": ["a"], "create": {"type": "b", "payload": {"from": "rule"}}},
           {"name": "c-on-completion", "after": ["a"], "condition": "onCompletion", "create": {"type": "c"}}
         ]}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("good.json", #"{"type": "a", "payload": {}}"#)
        try spool.drop("bad.json", #"{"type": "a", "payload": {"fail": true}}"#)
        try Self.drain(spool)
        #expect(
            spool.jobIDs(in: "done").sorted() == [
                "b-on-success@good", "c-on-completion@bad", "c-on-completion@good", "good",
            ])
        #expect(spool.jobIDs(in: "failed") == ["bad"])
        let dependent = try spool.record("b-on-success@good", in: "done")
        #expect(dependent["parentJobId"] as? String == "good")
        #expect(dependent["createdByRule"] as? String == "b-on-success")
        #expect((dependent["payload"] as? [String: String]) == ["from": "rule"])
        // Each dependent ran once; running the spool again makes nothing new.
        #expect(Self.lines(trace).filter { $0.hasPrefix("b-on-success@") } == ["b-on-success@good"])
        try Self.drain(spool)
        #expect(spool.jobIDs(in: "done").count == 4 && spool.jobIDs(in: "queued").isEmpty)
    }

    @Test("C after [X, Y] for one correlation key: made once, only after both; each key on its own")
    func severalParents() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/trace"
        try """
        {"handlers": {"x": \(Self.tracing(trace)), "y": \(Self.tracing(trace)), "z": \(Self.tracing(trace))},
         "rules": [{"name": "summary", "after": ["x", "y"], "create": {"type": "z"}}]}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("x-23.json", #"{"type": "x", "correlation": "2026-11-23"}"#)
        try spool.drop("x-24.json", #"{"type": "x", "correlation": "2026-11-24"}"#)
        try Self.drain(spool)
        #expect(spool.jobIDs(in: "done").sorted() == ["x-23", "x-24"])
        try spool.drop("y-23.json", #"{"type": "y", "correlation": "2026-11-23"}"#)
        try Self.drain(spool)
        #expect(spool.jobIDs(in: "done").contains("summary@2026-11-23"))
        #expect(!spool.jobIDs(in: "done").contains("summary@2026-11-24"))
        let summary = try spool.record("summary@2026-11-23", in: "done")
        #expect(summary["parentJobIds"] as? [String] == ["x-23", "y-23"])
        #expect(summary["correlation"] as? String == "2026-11-23")
        // A second x for the 23rd does not make a second summary.
        try spool.drop("x-23-again.json", #"{"type": "x", "correlation": "2026-11-23"}"#)
        try spool.drop("y-24.json", #"{"type": "y", "correlation": "2026-11-24"}"#)
        try Self.drain(spool)
        #expect(
            spool.jobIDs(in: "done").filter { $0.hasPrefix("summary@") }.sorted() == [
                "summary@2026-11-23", "summary@2026-11-24",
            ])
        #expect(Self.lines(trace).filter { $0.hasPrefix("summary@") }.count == 2)
    }

    @Test("four processors finishing parents at once: every dependent exists exactly once")
    func fourProcessors() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/trace"
        try """
        {"workers": 2, "handlers": {"x": \(Self.tracing(trace)), "y": \(Self.tracing(trace)), "z": \(Self.tracing(trace))},
         "rules": [{"name": "both", "after": ["x", "y"], "create": {"type": "z"}},
                   {"name": "each", "after": ["x"], "create": {"type": "z"}}]}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        let keys = 150
        _ = try spool.dropMany(keys, prefix: "x") { #"{"type": "x", "correlation": "k\#($0)"}"# }
        _ = try spool.dropMany(keys, prefix: "y") { #"{"type": "y", "correlation": "k\#($0)"}"# }
        let processors = try (0..<4).map { _ in try spool.startProcessor() }
        #expect(spool.waitUntil(timeout: 120) { spool.jobIDs(in: "done").count == 4 * keys })
        for processor in processors { #expect(spool.stop(processor) == 0) }
        let made = Self.lines(trace).filter { $0.hasPrefix("both@") || $0.hasPrefix("each@") }
        #expect(made.count == 2 * keys)
        #expect(Set(made).count == made.count)
        #expect(spool.jobIDs(in: "done").filter { $0.hasPrefix("both@") }.count == keys)
        #expect(spool.names(in: "queued").isEmpty && spool.names(in: "failed").isEmpty)
    }

    @Test("a chain A → B → C runs to its end; a cycle in the rules is refused, naming it")
    func chainAndCycle() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/trace"
        try """
        {"handlers": {"a": \(Self.tracing(trace)), "b": \(Self.tracing(trace)), "c": \(Self.tracing(trace))},
         "rules": [{"name": "to-b", "after": ["a"], "create": {"type": "b"}},
                   {"name": "to-c", "after": ["b"], "create": {"type": "c"}}]}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("start.json", #"{"type": "a"}"#)
        try Self.drain(spool)
        #expect(Self.lines(trace) == ["start", "to-b@start", "to-c@to-b@start"])
        #expect(try spool.record("to-c@to-b@start", in: "done")["parentJobId"] as? String == "to-b@start")

        try """
        {"handlers": {"a": \(Self.tracing(trace)), "b": \(Self.tracing(trace))},
         "rules": [{"name": "to-b", "after": ["a"], "create": {"type": "b"}},
                   {"name": "to-a", "after": ["b"], "create": {"type": "a"}}]}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        let refused = try spool.spool(["run", "--drain"])
        #expect(refused.status == 78)
        #expect(refused.standardError.contains("\"rules\" make a cycle: a → b → a"))
    }

    @Test("job-level after: waits, then runs; a failed dependency cancels the waiter with the reason")
    func jobLevelAfter() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/trace"
        try """
        {"handlers": {"slow": \(TestSpool.shellHandler(
                "grep -q '\"fail\"' && exit 1; sleep 1; echo \"$SPOOL_JOB_ID\" >> \(trace)", extra: "\"maxAttempts\": 1")),
                      "quick": \(Self.tracing(trace))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("first.json", #"{"type": "slow"}"#)
        try spool.drop("broken.json", #"{"type": "slow", "payload": {"fail": true}}"#)
        let ok = try spool.spool(["submit", "--type", "quick", "--id", "then", "--payload", "{}"], input: nil)
        #expect(ok.status == 0)
        // The dependency must exist when a job is submitted.
        let missing = try spool.spool(["submit", spool.scratch + "/missing.json"])
        #expect(missing.status == 66)
        let file = spool.scratch + "/after.json"
        try #"{"type": "quick", "after": ["nosuchjob"]}"#.write(toFile: file, atomically: true, encoding: .utf8)
        let refused = try spool.spool(["submit", file])
        #expect(refused.status == 65 && refused.standardError.contains("dependency nosuchjob does not exist"))
        try #"{"type": "quick", "after": ["first", "then"]}"#.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try spool.spool(["submit", file, "--id", "waiter"]).status == 0)
        try #"{"type": "quick", "after": ["broken"]}"#.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try spool.spool(["submit", file, "--id", "doomed"]).status == 0)
        let processor = try spool.startProcessor()
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "waiting") == ["waiter"] })
        let listed = try spool.spool(["list", "--state", "waiting"])
        #expect(listed.standardOutput.contains("waiter") && listed.standardOutput.contains("waiting"))
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "done").contains("waiter") })
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "cancelled") == ["doomed"] })
        #expect(spool.stop(processor) == 0)
        let order = Self.lines(trace)
        #expect(order.firstIndex(of: "waiter")! > order.firstIndex(of: "first")!)
        #expect(try spool.record("doomed", in: "cancelled")["error"] as? String == "dependency broken failed")
        #expect(!order.contains("doomed"))
        // A dropped file waiting for a job that does not exist is a recorded failure.
        try spool.drop("orphan.json", #"{"type": "quick", "after": ["ghost"]}"#)
        try Self.drain(spool)
        #expect(try spool.record("orphan", in: "failed")["error"] as? String == "dependency ghost does not exist")
    }

    @Test("the schedules example loads, lists its schedules, and its report → summary chain runs")
    func schedulesExample() throws {
        let spool = try TestSpool(configuration: "{}")
        let example = ExamplesTests.repository.appendingPathComponent("examples/schedules").path
        try FileManager.default.removeItem(atPath: spool.root + "/spool.json")
        try FileManager.default.copyItem(atPath: example + "/spool.json", toPath: spool.root + "/spool.json")
        let schedules = try spool.spool(["schedules"])
        #expect(schedules.status == 0)
        #expect(schedules.standardOutput.contains("daily-report: 0 30 5 * * ? (Europe/Berlin, catchUp latest)"))
        #expect(schedules.standardOutput.contains("system-scheduler: 0 */2 * * * ? (UTC, catchUp none)"))
        #expect(try spool.spool(["submit", example + "/daily-report.json", "--id", "daily-report@manual"]).status == 0)
        try Self.drain(spool)
        #expect(spool.jobIDs(in: "done") == ["daily-report@manual", "daily-summary@2026-11-23"])
        #expect(spool.contents("results/daily-summary@2026-11-23.out") == "daily summary: daily-summary@2026-11-23\n")
    }

    @Test("show estimates when a queued job will finish from its type's recent durations and the queue ahead")
    func estimate() throws {
        let spool = try TestSpool(
            configuration: """
                {"workers": 2, "handlers": {"nap": \(TestSpool.shellHandler("sleep 0.3"))}}
                """)
        for number in 1...3 { try spool.drop("past-\(number).json", #"{"type": "nap"}"#) }
        try Self.drain(spool)
        let unknown = try spool.spool(["submit", "--type", "nap", "--id", "first"])
        #expect(unknown.status == 0)
        for number in 1...4 {
            #expect(try spool.spool(["submit", "--type", "nap", "--id", "later-\(number)"]).status == 0)
        }
        let shown = try spool.spool(["show", "later-4"])
        let line = try #require(shown.standardOutput.split(separator: "\n").first { $0.hasPrefix("eta:") })
        #expect(line.contains("mean of the last 3 done job(s) of its type"))
        #expect(line.contains("4 job(s) ahead, 2 worker(s)"))
        let none = try TestSpool(configuration: #"{"handlers": {"nap": {"builtin": "noop"}}}"#)
        #expect(try none.spool(["submit", "--type", "nap", "--id", "lonely"]).status == 0)
        #expect(try none.spool(["show", "lonely"]).standardOutput.contains("eta:        unknown (no job of type nap"))
    }

    @Test("a rule with a role counts only jobs whose owner has that role; the dependent acts for that owner")
    func roleFilter() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/trace"
        try """
        {"handlers": {"a": \(Self.tracing(trace)), "b": \(Self.tracing(trace))},
         "masking": {"roles": {"manager": {}, "analyst": {}}, "owners": {"0": "manager", "4242": "analyst"},
                     "defaultRole": "analyst"},
         "rules": [{"name": "for-analysts", "after": ["a"], "role": "analyst", "create": {"type": "b"}}]}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        for (id, owner) in [("by-root", 0), ("by-analyst", 4242)] {
            let hidden = spool.root + "/queued/.\(id).json"
            try #"{"type": "a"}"#.write(toFile: hidden, atomically: false, encoding: .utf8)
            #expect(chown(hidden, uid_t(owner), gid_t(owner)) == 0)
            #expect(rename(hidden, spool.root + "/queued/\(id).json") == 0)
        }
        try Self.drain(spool)
        #expect(spool.jobIDs(in: "done").sorted() == ["by-analyst", "by-root", "for-analysts@by-analyst"])
        #expect(try spool.record("for-analysts@by-analyst", in: "done")["ownerUID"] as? Int == 4242)
        // A role that the masking section does not define is refused when spool.json is read.
        try """
        {"handlers": {"a": {"builtin": "noop"}, "b": {"builtin": "noop"}}, "masking": {"roles": {"analyst": {}}},
         "rules": [{"after": ["a"], "role": "boss", "create": {"type": "b"}}]}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        let refused = try spool.spool(["run", "--drain"])
        #expect(refused.status == 78)
        #expect(
            refused.standardError.contains("\"rules[0].role\" must name a role of the \"masking\" section (analyst)"))
    }
}
