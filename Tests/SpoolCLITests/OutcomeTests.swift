import Foundation
import Glibc
import SpoolSystem
import Testing

/// What each way a handler can end does to its job.
@Suite("Handler outcomes")
struct OutcomeTests {
    @Test("exit 75 is retried without using up attempts, then succeeds")
    func temporaryFailureIsRetried() throws {
        let spool = try TestSpool(
            configuration: """
                {"backoff": {"base": 0.05, "max": 0.2},
                 "handlers": {"flaky": \(TestSpool.shellHandler("[ \"$SPOOL_ATTEMPT\" -ge 3 ] || exit 75", extra: "\"maxAttempts\": 1"))}}
                """)
        try spool.drop("flaky.json", #"{"type": "flaky"}"#)
        let result = try spool.spool(["run", "--drain"])
        #expect(result.status == 0)
        let record = try spool.record("flaky", in: "done")
        #expect(record["attempts"] as? Int == 3)
        #expect(record["deferredAttempts"] as? Int == 2)
        #expect(spool.contents("logs/flaky.log")?.contains("exit 75 (temporary failure)") == true)
    }

    @Test("exit 1 with maxAttempts 2 ends in failed/ after 2 attempts, with the error")
    func failureExhaustsAttempts() throws {
        let spool = try TestSpool(
            configuration: """
                {"backoff": {"base": 0.05, "max": 0.1},
                 "handlers": {"bad": \(TestSpool.shellHandler("echo oops >&2; exit 1"))}}
                """)
        try spool.drop("bad.json", #"{"type": "bad", "maxAttempts": 2}"#)
        let result = try spool.spool(["run", "--drain"])
        #expect(result.status == 0)
        let record = try spool.record("bad", in: "failed")
        #expect(record["attempts"] as? Int == 2)
        #expect(record["exitCode"] as? Int == 1)
        #expect(record["error"] as? String == "exit 1 (attempt 2 of 2)")
        #expect(record["result"] as? String == "results/bad.out")
        let log = try #require(spool.contents("logs/bad.log"))
        #expect(log.contains("oops"))
        #expect(log.contains("exit 1 (attempt 1 of 2); will retry in"))
    }

    @Test("a handler past its timeout is killed with its children and fails with \"timed out\"")
    func timeoutKillsTheProcessGroup() throws {
        let spool = try TestSpool(configuration: "{}")
        let pidFile = spool.scratch + "/grandchild.pid"
        // The handler ignores SIGTERM and leaves a background grandchild: only the group SIGKILL ends both.
        try """
        {"killGrace": 0.5, "handlers": {"slow": \(TestSpool.shellHandler(
                "trap '' TERM; sleep 60 & echo $! > \(pidFile); sleep 60", extra: "\"timeout\": 1, \"maxAttempts\": 1"))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("slow.json", #"{"type": "slow"}"#)
        let started = Date()
        let result = try spool.spool(["run", "--drain"])
        #expect(result.status == 0)
        #expect(Date().timeIntervalSince(started) < 20)
        let record = try spool.record("slow", in: "failed")
        #expect(record["error"] as? String == "timed out after 1 s")
        let pid = try #require(
            Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(spool.waitUntil(timeout: 5) { kill(pid, 0) != 0 || TestProcesses.isZombie(pid) })
    }

    @Test("a job's own timeout applies when shorter than its type's")
    func jobTimeoutLowersTypeTimeout() throws {
        let spool = try TestSpool(
            configuration: """
                {"killGrace": 0.2, "handlers": {"slow": \(TestSpool.shellHandler("sleep 30", extra: "\"timeout\": 60"))}}
                """)
        try spool.drop("short.json", #"{"type": "slow", "timeout": 0.5, "maxAttempts": 1}"#)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        #expect(try spool.record("short", in: "failed")["error"] as? String == "timed out after 0.5 s")
    }

    @Test("a handler killed by a signal is recorded with the signal's name")
    func signalIsRecorded() throws {
        let spool = try TestSpool(
            configuration: """
                {"handlers": {"crash": \(TestSpool.shellHandler("kill -SEGV $$", extra: "\"maxAttempts\": 1"))}}
                """)
        try spool.drop("crash.json", #"{"type": "crash"}"#)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        let record = try spool.record("crash", in: "failed")
        #expect(record["signal"] as? String == "SIGSEGV")
        #expect(record["error"] as? String == "killed by SIGSEGV")
    }

    @Test("the handler gets the job on stdin, its stdout becomes the result, and progress reaches the record")
    func handlerProtocol() throws {
        let spool = try TestSpool(configuration: "{}")
        let seen = spool.scratch + "/seen"
        let script = """
            cat; echo "id=$SPOOL_JOB_ID attempt=$SPOOL_ATTEMPT type=$SPOOL_JOB_TYPE dir=$SPOOL_DIR result=$SPOOL_RESULT"; \
            echo 'progress 40' >&3; sleep 0.6; cp "$SPOOL_JOB_FILE" \(seen); echo 'progress 70' >&3; echo to-log >&2
            """
        try """
        {"handlers": {"proto": \(TestSpool.shellHandler(script, extra: "\"env\": {\"GREETING\": \"hello\"}"))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop(
            "p1.json", #"{"type": "proto", "payload": {"text": "a;b $(x) `y`"}, "custom": [1, 2.50, 1e400]}"#)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        let result = try #require(spool.contents("results/p1.out"))
        #expect(result.contains(#""text": "a;b $(x) `y`""#))
        #expect(result.contains("id=p1 attempt=1 type=proto dir=\(spool.root) result=\(spool.root)/results/p1.out"))
        // Unknown fields survive byte for byte, numbers included.
        #expect(result.contains(#""custom": ["#) && result.contains("2.50") && result.contains("1e400"))
        // Mid-run, the record in processing/ held the reported progress.
        let midRun = try #require(try? String(contentsOfFile: seen, encoding: .utf8))
        #expect(midRun.contains(#""progress": 40"#))
        #expect(midRun.contains(#""status": "running""#))
        // (Foundation's parser rejects 1e400, which the spool keeps verbatim: check the text.)
        let record = try #require(spool.contents("done/p1.json"))
        #expect(record.contains(#""progress": 100"#))
        #expect(record.contains(#""exitCode": 0"#))
        #expect(record.contains("1e400"))
        #expect(spool.contents("logs/p1.log")?.contains("to-log") == true)
    }

    @Test("priority order: higher priority first, then arrival")
    func priorityOrder() throws {
        let spool = try TestSpool(configuration: "{}")
        let order = spool.scratch + "/order"
        try """
        {"handlers": {"rec": \(TestSpool.shellHandler("echo $SPOOL_JOB_ID >> \(order)"))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("a-low.json", #"{"type": "rec", "priority": "low"}"#)
        usleep(20_000)
        try spool.drop("b-normal1.json", #"{"type": "rec"}"#)
        usleep(20_000)
        try spool.drop("c-critical.json", #"{"type": "rec", "priority": "critical"}"#)
        usleep(20_000)
        try spool.drop("d-normal2.json", #"{"type": "rec", "priority": 0}"#)
        usleep(20_000)
        try spool.drop("e-high.json", #"{"type": "rec", "priority": 10}"#)
        #expect(try spool.spool(["run", "--drain", "--workers", "1"]).status == 0)
        let lines = try String(contentsOfFile: order, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines == ["c-critical", "e-high", "b-normal1", "d-normal2", "a-low"])
    }
}

enum TestProcesses {
    /// Whether /proc says the process is a zombie (exited, not yet reaped by its new parent).
    static func isZombie(_ pid: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        guard let close = status.lastIndex(of: ")") else { return false }
        return status[status.index(close, offsetBy: 2)] == "Z"
    }
}

@Suite("Handler outcomes: hostile handlers")
struct HostileHandlerTests {
    @Test("a handler flooding its progress channel still times out, and its log stays small")
    func progressFlood() throws {
        let spool = try TestSpool(
            configuration: """
                {"killGrace": 0.5, "handlers": {
                   "flood": {"command": ["/bin/sh", "-c", "yes 'progress 5' >&3"], "timeout": 1, "maxAttempts": 1},
                   "noise": {"command": ["/bin/sh", "-c", "yes >&3"], "timeout": 1, "maxAttempts": 1}}}
                """)
        try spool.drop("flood.json", #"{"type": "flood"}"#)
        try spool.drop("noise.json", #"{"type": "noise"}"#)
        let started = Date()
        let result = try spool.spool(["run", "--drain"])
        #expect(result.status == 0)
        #expect(Date().timeIntervalSince(started) < 15)
        #expect(try spool.record("flood", in: "failed")["error"] as? String == "timed out after 1 s")
        #expect(try spool.record("noise", in: "failed")["error"] as? String == "timed out after 1 s")
        let log = try #require(spool.contents("logs/noise.log"))
        #expect(log.split(separator: "\n").count < 20)
        #expect(log.contains("more ignored progress lines; not logging them"))
    }

    @Test("a handler gets descriptors 0-4 and nothing else")
    func onlyItsDescriptors() throws {
        let spool = try TestSpool(
            configuration: """
                {"handlers": {"fds": {"command": ["/bin/ls", "/proc/self/fd"]}}}
                """)
        try spool.drop("fds.json", #"{"type": "fds"}"#)
        // Start the processor from a shell that leaves fd 7 open (not close-on-exec), as a careless
        // supervisor might; the handler must not see it.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [
            "-c",
            "exec 7</dev/null; exec \"$0\" run --spool \"$1\" --drain --quiet "
                + TestSpool.rootHandlerArguments.joined(separator: " "),
            TestSpool.binary, spool.root,
        ]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let listing = try #require(spool.contents("results/fds.out"))
        // ls itself opens one descriptor for the directory it lists.
        let numbers = listing.split(separator: "\n").compactMap { Int($0) }.filter { $0 <= 4 || $0 == 7 }
        #expect(numbers == [0, 1, 2, 3, 4])
    }
}

@Suite("Handler outcomes: logs")
struct HandlerLogTests {
    @Test("stderr lines become timestamped, levelled log lines; a log limit stops a flood")
    func levelledStderr() throws {
        let spool = try TestSpool(
            configuration: """
                {"handlers": {
                   "talk": \(TestSpool.shellHandler("echo 'reading input' >&2; echo 'warning: slow disk' >&2; echo 'ERROR: bad row 7' >&2; printf 'no newline' >&2")),
                   "flood": \(TestSpool.shellHandler("yes >&2", extra: "\"maxAttempts\": 1, \"limits\": {\"log\": \"32 KiB\"}"))}}
                """)
        try spool.drop("talk.json", #"{"type": "talk"}"#)
        try spool.drop("flood.json", #"{"type": "flood"}"#)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        let lines = try #require(spool.contents("logs/talk.log")).split(separator: "\n").map(String.init)
        let stderrLines = lines.filter { $0.contains(" stderr: ") }
        #expect(stderrLines.count == 4)
        #expect(stderrLines[0].hasSuffix(" INFO stderr: reading input"))
        #expect(stderrLines[1].hasSuffix(" WARNING stderr: warning: slow disk"))
        #expect(stderrLines[2].hasSuffix(" ERROR stderr: ERROR: bad row 7"))
        #expect(stderrLines[3].hasSuffix(" INFO stderr: no newline"))
        #expect(stderrLines.allSatisfy { $0.hasPrefix("20") && $0.dropFirst(23).hasPrefix("Z ") })
        #expect(try spool.record("flood", in: "failed")["error"] as? String == "log output exceeded 32 KiB")
        let floodLog = try #require(spool.contents("logs/flood.log"))
        #expect(floodLog.utf8.count < 2 * 1024 * 1024)
    }
}
