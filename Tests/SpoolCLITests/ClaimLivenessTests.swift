import Foundation
import Glibc
import SpoolSystem
import Testing

/// Issue 21: a claim is alive while any process of it lives, never judged by a processor name
/// read from a record; nothing of a job outlives it. Each run of a job is checked independently
/// of the spool: the handler takes `flock -n` on a file outside the spool for as long as it (or
/// anything it started) lives, and logs OVERLAP when another run of the same job holds it.
@Suite("Claim liveness: never two runs of one job at once, nothing of a job outlives it", .serialized)
struct ClaimLivenessTests {
    static let hasStrace = ["/usr/bin/strace", "/bin/strace"].contains {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    static let hasFlock = ["/usr/bin/flock", "/bin/flock"].contains { FileManager.default.isExecutableFile(atPath: $0) }

    /// A handler script that holds the job's overlap lock and logs `start|end JOB ATTEMPT PID`.
    /// `body` runs between the two lines.
    static func checkedHandler(trace: String, locks: String, body: String) -> String {
        """
        exec 9>>"\(locks)/$SPOOL_JOB_ID.lock"
        flock -n 9 || echo "OVERLAP $SPOOL_JOB_ID $SPOOL_ATTEMPT $$" >> "\(trace)"
        echo "start $SPOOL_JOB_ID $SPOOL_ATTEMPT $$" >> "\(trace)"
        \(body)
        echo "end $SPOOL_JOB_ID $SPOOL_ATTEMPT $$" >> "\(trace)"
        """
    }

    /// What a trace says: overlapping runs (by the handler's own check) and (job, attempt) pairs
    /// started more than once.
    static func problems(inTrace trace: String) -> (overlaps: [String], reusedAttempts: [String], starts: Int) {
        let lines = ((try? String(contentsOfFile: trace, encoding: .utf8)) ?? "").split(separator: "\n")
        var seen = Set<String>()
        var reused: [String] = []
        var starts = 0
        for line in lines where line.hasPrefix("start ") {
            starts += 1
            let parts = line.split(separator: " ")
            let key = "\(parts[1]) \(parts[2])"
            if !seen.insert(key).inserted { reused.append(key) }
        }
        return (lines.filter { $0.hasPrefix("OVERLAP") }.map(String.init), reused, starts)
    }

    @Test(
        "F1: a processor killed before its start landed: recovery waits for the claim's processes, counts the start, never runs it twice",
        .enabled(if: hasStrace && hasFlock, "needs strace (to stall the start's flush) and flock(1)"))
    func startThatNeverLanded() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/trace"
        let locks = spool.scratch
        // Each attempt kills its processor the first time it starts, then works for a while.
        let body = """
            if [ ! -e "\(locks)/$SPOOL_JOB_ID.$SPOOL_ATTEMPT.killed" ]; then
              : > "\(locks)/$SPOOL_JOB_ID.$SPOOL_ATTEMPT.killed"; kill -9 $PPID
            fi
            if [ "$SPOOL_ATTEMPT" = 1 ]; then sleep 2; else sleep 8; fi
            """
        try """
        {"handlers": {"k": \(TestSpool.shellHandler(Self.checkedHandler(trace: trace, locks: locks, body: body), extra: #""maxAttempts": 4"#))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("j1.json", #"{"type": "k"}"#)
        let strace = ["/usr/bin/strace", "/bin/strace"].first { FileManager.default.isExecutableFile(atPath: $0) }!
        var processors = 0
        while spool.jobIDs(in: "done").isEmpty && spool.jobIDs(in: "failed").isEmpty && processors < 8 {
            processors += 1
            var arguments = ["run", "--drain", "--quiet", "--spool", spool.root] + TestSpool.rootHandlerArguments
            var program = TestSpool.binary
            if processors == 2 {
                // The second processor's flushes take 3 s each: it dies before its start lands. (-D: the
                // tracer is not its parent, so the run returns when the processor dies.)
                arguments =
                    [
                        "-D", "-f", "-o", "/dev/null", "-e", "inject=fsync,fdatasync,syncfs:delay_enter=3000000",
                        TestSpool.binary,
                    ] + arguments
                program = strace
            }
            _ = try TestSpool.run(arguments, allowRootHandlers: false, program: program)
            if processors == 2 {
                // The case under test: the start was staged but never landed.
                #expect(spool.names(in: "tmp").contains { $0.hasPrefix("start~j1.") }, "\(spool.names(in: "tmp"))")
            }
            // Recovery as a user would run it, until the job is out of processing/.
            _ = spool.waitUntil(timeout: 20) {
                _ = try? spool.spool(["fsck", "--repair"])
                return spool.jobIDs(in: "processing").isEmpty
            }
        }
        // Whatever ran last has finished before the verdict: no run holds the job's lock.
        #expect(spool.waitUntil(timeout: 20) { Self.isFree(locks + "/j1.lock") })
        let found = Self.problems(inTrace: trace)
        #expect(found.overlaps.isEmpty, "\(found.overlaps)")
        #expect(found.reusedAttempts.isEmpty, "attempt numbers started twice: \(found.reusedAttempts)")
        // Every start was counted: four attempts, each killing its processor, then failed for good.
        let record = try spool.record("j1", in: "failed")
        #expect(record["attempts"] as? Int == 4)
        #expect((record["error"] as? String)?.contains("gave up after 4 attempts") == true, "\(record)")
        let log = spool.contents("logs/j1.log") ?? ""
        #expect(log.components(separatedBy: "WARNING recovered").count - 1 == 4, "\(log)")
        // No staged start is left behind, and the spool is clean.
        #expect(spool.names(in: "tmp").filter { $0.hasPrefix("start~") }.isEmpty, "\(spool.names(in: "tmp"))")
        let fsck = try spool.spool(["fsck"])
        #expect(fsck.status == 0, "\(fsck.standardOutput)")
    }

    @Test(
        "kill -9 storm: 4 processors of 3 workers, one killed every 0.2-0.8 s; no overlapping runs, no attempt run twice, nothing lost",
        .enabled(if: hasFlock, "needs flock(1)"))
    func killStorm() throws {
        let seconds = TortureTests.duration(ci: 45)
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/trace"
        let body = #"sleep "$(awk -v s=$$ 'BEGIN { srand(s); printf "%.2f", 0.3 + rand() * 1.2 }')""#
        try """
        {"handlers": {"s": \(TestSpool.shellHandler(Self.checkedHandler(trace: trace, locks: spool.scratch, body: body), extra: #""maxAttempts": 1000"#))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        var ids = try spool.dropMany(300, prefix: "s") { _ in #"{"type": "s"}"# }
        let arguments = ["--workers", "3", "--quiet"]
        var processors = try (0..<4).map { _ in try spool.startProcessor(arguments) }
        var generator = SystemRandomNumberGenerator()
        var kills = 0
        var batch = 0
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            usleep(UInt32.random(in: 200_000...800_000, using: &generator))
            let victim = Int.random(in: 0..<processors.count, using: &generator)
            kill(processors[victim].processIdentifier, SIGKILL)
            processors[victim].waitUntilExit()
            kills += 1
            processors[victim] = try spool.startProcessor(arguments)
            if spool.names(in: "queued").count < 50 {
                batch += 1
                ids += try spool.dropMany(100, prefix: "b\(batch)") { _ in #"{"type": "s"}"# }
            }
        }
        for processor in processors { _ = spool.stop(processor) }
        let drain = try spool.spool(["run", "--drain", "--quiet", "--workers", "8"])
        #expect(drain.status == 0, "\(drain.standardError)")

        let found = Self.problems(inTrace: trace)
        #expect(kills >= 20)
        #expect(found.overlaps.isEmpty, "overlapping runs: \(found.overlaps.prefix(10))")
        #expect(found.reusedAttempts.isEmpty, "attempt numbers started twice: \(found.reusedAttempts.prefix(10))")
        let done = spool.jobIDs(in: "done")
        let lost = Set(ids).subtracting(done)
        #expect(lost.isEmpty, "lost: \(lost.sorted().prefix(10))")
        #expect(spool.names(in: "failed").isEmpty, "\(spool.names(in: "failed").prefix(10))")
        #expect(spool.names(in: "tmp").filter { $0.hasPrefix("start~") || $0.hasPrefix("result-") }.isEmpty)
        // A log says "done" only of a job that stays done: never "→ done/" then "recovered".
        let contradicted = done.filter { id in
            let log = spool.contents("logs/\(id).log") ?? ""
            guard let doneLine = log.range(of: "→ done/") else { return false }
            return log[doneLine.upperBound...].contains("recovered")
        }
        #expect(contradicted.isEmpty, "logs that say done, then recovered: \(contradicted.prefix(5))")
        let fsck = try spool.spool(["fsck"])
        #expect(fsck.status == 0, "\(fsck.standardOutput)")
        TortureTests.record(
            "kill -9 storm (issue 21): \(seconds) s, 4 processors x 3 workers, \(ids.count) jobs, \(kills) kills, "
                + "\(found.starts) starts, overlaps \(found.overlaps.count), attempts reused \(found.reusedAttempts.count), "
                + "lost \(lost.count), fsck exit \(fsck.status)")
    }

    @Test("F2: a handler inherits only its standard streams and the progress channel")
    func handlerDescriptors() throws {
        let spool = try TestSpool(
            configuration: #"{"handlers": {"fds": {"command": ["/bin/ls", "-l", "/proc/self/fd"]}}}"#)
        try spool.drop("f.json", #"{"type": "fds"}"#)
        let run = try spool.spool(["run", "--drain", "--quiet"])
        #expect(run.status == 0, "\(run.standardError)")
        let listing = spool.contents("results/f.out") ?? ""
        let numbers = listing.split(separator: "\n").compactMap { line -> Int? in
            guard let arrow = line.range(of: " -> ") else { return nil }
            return Int(line[..<arrow.lowerBound].split(separator: " ").last ?? "")
        }
        // 0-3 are the job's; the one above is ls's own descriptor of /proc/self/fd.
        #expect(numbers.sorted() == [0, 1, 2, 3, 4], "\(listing)")
        #expect(!listing.contains("processors/"), "the processor's lock leaked into the handler: \(listing)")
    }

    /// Whether no process holds the flock of the file at `path`.
    static func isFree(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        return flock(fd, LOCK_EX | LOCK_NB) == 0
    }

    /// A handler whose descendant leaves the session and outlives it unless contained.
    static let daemonizingHandler = TestSpool.shellHandler(
        "setsid sh -c 'echo $$ > \"$SPOOL_DIR/../daemon.pid\"; exec sleep 30' & sleep 0.2; echo ok")

    static func daemonPID(_ spool: TestSpool) -> pid_t? {
        spool.contents("../daemon.pid").flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    static func isRunning(_ pid: pid_t) -> Bool {
        // A zombie has no cmdline; it is gone for our purposes.
        kill(pid, 0) == 0 && !((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").isEmpty
    }

    @Test(
        "F2: a descendant that calls setsid() dies with its job (cgroup, and subreaper fallback)",
        arguments: ["auto", "subreaper"])
    func sessionLeaverEndsWithJob(containment: String) throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"d": \#(Self.daemonizingHandler)}}"#)
        try spool.drop("d1.json", #"{"type": "d"}"#)
        let run = try spool.spool(["run", "--drain", "--quiet"], environment: ["SPOOL_CONTAINMENT": containment])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(spool.jobIDs(in: "done") == ["d1"])
        let pid = try #require(Self.daemonPID(spool))
        #expect(spool.waitUntil(timeout: 5) { !Self.isRunning(pid) }, "pid \(pid) outlived its job")
    }

    @Test(
        "F2: what a processor killed with -9 leaves running is killed by the next recovery on this host",
        arguments: ["auto", "subreaper"])
    func leftoversOfKilledProcessor(containment: String) throws {
        // The handler starts a session leaver, then waits: the processor is killed meanwhile.
        let handler = TestSpool.shellHandler(
            "setsid sh -c 'echo $$ > \"$SPOOL_DIR/../daemon.pid\"; exec sleep 30' & sleep 30")
        let spool = try TestSpool(configuration: #"{"handlers": {"d": \#(handler)}}"#)
        try spool.drop("d1.json", #"{"type": "d"}"#)
        let processor = try spool.startProcessor(["--quiet"], environment: ["SPOOL_CONTAINMENT": containment])
        #expect(spool.waitUntil(timeout: 10) { Self.daemonPID(spool) != nil })
        let pid = try #require(Self.daemonPID(spool))
        kill(processor.processIdentifier, SIGKILL)
        processor.waitUntilExit()
        // The leaver holds the attempt's result (its stdout) on both paths.
        #expect(Self.isRunning(pid))
        let repair = try spool.spool(["fsck", "--repair"], environment: ["SPOOL_CONTAINMENT": containment])
        #expect(repair.status == 0 || repair.status == 1, "\(repair.standardOutput) \(repair.standardError)")
        #expect(spool.waitUntil(timeout: 5) { !Self.isRunning(pid) }, "pid \(pid) survived recovery")
        #expect(
            spool.waitUntil(timeout: 10) {
                _ = try? spool.spool(["fsck", "--repair"])
                return spool.jobIDs(in: "queued") == ["d1"]
            })
        let record = try spool.record("d1", in: "queued")
        #expect(record["attempts"] as? Int == 1)
        #expect(record["processor"] == nil)
    }
}
