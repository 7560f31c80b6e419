import Foundation
import Glibc
import Testing

/// What the seeds ask that a file spool now does (issue 18), each through the built binary.
@Suite("Seed gaps: priority names, delayed jobs, rule conditions, switches", .serialized)
struct SeedGapTests {
    @Test("priority 'medium' is the seeds' name for normal; an unknown name is refused with the list")
    func mediumPriority() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"t": {"builtin": "noop"}}}"#)
        let submitted = try spool.spool(["submit", "--type", "t", "--priority", "medium", "--id", "m"])
        #expect(submitted.status == 0, "\(submitted.standardError)")
        #expect(try spool.record("m", in: "queued")["priority"] as? String == "medium")
        let refused = try spool.spool(["submit", "--type", "t", "--priority", "urgent"])
        #expect(refused.status == 65)
        #expect(refused.standardError.contains("low, normal, medium, high, critical"), "\(refused.standardError)")
    }

    @Test("submit --delay and --at set notBefore: the job waits in queued/ until then, then runs")
    func delayedJobs() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"t": {"builtin": "noop"}}}"#)
        let before = Date().timeIntervalSince1970
        #expect(try spool.spool(["submit", "--type", "t", "--delay", "2s", "--id", "later"]).status == 0)
        let notBefore = try #require(try spool.record("later", in: "queued")["notBefore"] as? String)
        let due = try #require(ISO8601DateFormatter.withFractions.date(from: notBefore)).timeIntervalSince1970
        #expect(due >= before + 1.9 && due <= Date().timeIntervalSince1970 + 2.1, "\(notBefore)")
        // A time in the past: due at once.
        #expect(try spool.spool(["submit", "--type", "t", "--at", "2020-01-01T00:00:00Z", "--id", "now"]).status == 0)
        let processor = try spool.startProcessor(["--quiet"])
        #expect(spool.waitUntil(timeout: 10) { spool.jobIDs(in: "done") == ["now"] })
        #expect(spool.jobIDs(in: "queued") == ["later"], "a delayed job ran early")
        #expect(spool.waitUntil(timeout: 10) { spool.jobIDs(in: "done").contains("later") })
        #expect(spool.stop(processor) == 0)
        let finished = try spool.record("later", in: "done")["finishedAt"] as? String
        let finishedAt = try #require(finished.flatMap { ISO8601DateFormatter.withFractions.date(from: $0) })
        #expect(finishedAt.timeIntervalSince1970 >= due)
    }

    @Test("submit --at and --delay: bad values and both at once are usage errors (64)")
    func delayUsage() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"t": {"builtin": "noop"}}}"#)
        for arguments in [["--at", "tomorrow"], ["--delay", "5"], ["--at", "2030-01-01T00:00:00Z", "--delay", "1m"]] {
            let result = try spool.spool(["submit", "--type", "t"] + arguments)
            #expect(result.status == 64, "\(arguments): \(result.standardError)")
        }
        #expect(spool.jobIDs(in: "queued").isEmpty)
    }
}

extension SeedGapTests {
    @Test("rules: onFailure makes a compensating job only when its job failed; a disabled rule makes none")
    func ruleConditionsAndSwitch() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/trace"
        try """
        {"handlers": {"a": \(DependencyTests.tracing(trace)), "undo": \(DependencyTests.tracing(trace)),
                      "note": \(DependencyTests.tracing(trace))},
         "rules": [
           {"name": "undo", "after": ["a"], "condition": "onFailure", "create": {"type": "undo"}},
           {"name": "note", "after": ["a"], "condition": "onCompletion", "enabled": false, "create": {"type": "note"}}
         ]}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("good.json", #"{"type": "a", "payload": {}}"#)
        try spool.drop("bad.json", #"{"type": "a", "payload": {"fail": true}}"#)
        try DependencyTests.drain(spool)
        #expect(spool.jobIDs(in: "done").sorted() == ["good", "undo@bad"])
        #expect(spool.jobIDs(in: "failed") == ["bad"])
        let badRule = try spool.spool(["run", "--drain"], input: nil)
        #expect(badRule.status == 0)
        try
            #"{"handlers": {"a": {"builtin": "noop"}}, "rules": [{"after": ["a"], "enabled": "no", "create": {"type": "a"}}]}"#
            .write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        let refused = try spool.spool(["list"])
        #expect(refused.status == 78, "\(refused.standardError)")
        #expect(refused.standardError.contains("enabled\" must be true or false"), "\(refused.standardError)")
    }

    @Test("schedules: a disabled one makes no job, shows as disabled, and catches nothing up when enabled")
    func disabledSchedule() throws {
        let configuration = { (enabled: Bool) in
            #"{"handlers": {"t": {"builtin": "noop"}}, "schedules": {"every": {"cron": "* * * * * ?", "catchUp": "all", "enabled": \#(enabled), "job": {"type": "t"}}}}"#
        }
        let spool = try TestSpool(configuration: configuration(false))
        let listed = try spool.spool(["schedules"])
        #expect(listed.standardOutput.contains("(disabled)"), "\(listed.standardOutput)")
        #expect(!listed.standardOutput.contains("next:"))
        let json = try spool.spool(["schedules", "--json"])
        #expect(json.standardOutput.contains(#""enabled": false"#), "\(json.standardOutput)")
        let processor = try spool.startProcessor(["--quiet"])
        Thread.sleep(forTimeInterval: 3)
        #expect(spool.stop(processor) == 0)
        let stoppedAt = Date().timeIntervalSince1970
        #expect(spool.jobIDs(in: "done").isEmpty && spool.jobIDs(in: "queued").isEmpty)
        // Switched on: the slots that passed while a processor ran it disabled are not caught up
        // (those after its stop were missed while no processor ran: catchUp all fires them).
        try configuration(true).write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        let again = try spool.startProcessor(["--quiet"])
        #expect(spool.waitUntil(timeout: 10) { !spool.jobIDs(in: "done").isEmpty })
        #expect(spool.stop(again) == 0)
        for id in spool.jobIDs(in: "done") {
            let slot = try #require(try spool.record(id, in: "done")["scheduledFor"] as? String)
            let time = try #require(ISO8601DateFormatter.withFractions.date(from: slot)).timeIntervalSince1970
            #expect(time >= stoppedAt - 1.1, "\(id) is a slot from while it ran disabled")
        }
    }
}

extension SeedGapTests {
    @Test(
        "who created it: the submitter's user name beside its uid, in the record and in show; a forged one is replaced")
    func createdBy() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"t": {"builtin": "noop"}}}"#)
        try spool.drop("c.json", #"{"type": "t", "createdBy": "someone-else"}"#)
        #expect(try spool.spool(["run", "--drain", "--quiet"]).status == 0)
        let record = try spool.record("c", in: "done")
        let name = try #require(getpwuid(getuid())).pointee.pw_name.map { String(cString: $0) }
        #expect(record["createdBy"] as? String == name)
        #expect(record["ownerUID"] as? Int == Int(getuid()))
        let shown = try spool.spool(["show", "c"])
        #expect(shown.standardOutput.contains("createdBy:  \(name ?? "?")"), "\(shown.standardOutput)")
    }
}

extension SeedGapTests {
    @Test("a handler's 'error [SEVERITY] TEXT' on fd 3 becomes the record's error and errorSeverity when it fails")
    func handlerErrors() throws {
        let failing = TestSpool.shellHandler(
            "echo 'error critical the upstream API refused our key' >&3; exit 3", extra: #""maxAttempts": 1"#)
        let plain = TestSpool.shellHandler("echo 'error disk quota reached' >&3; exit 4", extra: #""maxAttempts": 1"#)
        let fine = TestSpool.shellHandler("echo 'error only a warning, then fine' >&3; exit 0")
        let spool = try TestSpool(
            configuration: #"{"handlers": {"bad": \#(failing), "plain": \#(plain), "fine": \#(fine)}}"#)
        try spool.drop("b.json", #"{"type": "bad"}"#)
        try spool.drop("p.json", #"{"type": "plain"}"#)
        try spool.drop("f.json", #"{"type": "fine"}"#)
        #expect(try spool.spool(["run", "--drain", "--quiet"]).status == 0)
        let bad = try spool.record("b", in: "failed")
        #expect(bad["error"] as? String == "the upstream API refused our key (exit 3)", "\(bad)")
        #expect(bad["errorSeverity"] as? String == "critical")
        #expect(bad["reportedError"] == nil)
        let plainRecord = try spool.record("p", in: "failed")
        #expect(plainRecord["error"] as? String == "disk quota reached (exit 4)", "\(plainRecord)")
        #expect(plainRecord["errorSeverity"] as? String == "high")
        let done = try spool.record("f", in: "done")
        #expect(done["error"] == nil && done["errorSeverity"] == nil && done["reportedError"] == nil, "\(done)")
    }
}

extension ISO8601DateFormatter {
    /// `2026-12-06T05:23:55.207Z`, as the spool writes times.
    static var withFractions: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}
