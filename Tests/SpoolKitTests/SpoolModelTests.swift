import SpoolSystem
import Testing

@testable import SpoolKit

@Suite("Job ids, records and configuration")
struct SpoolModelTests {
    @Test(
        "job id rules",
        arguments: [
            ("abc", true), ("A-b_c.9", true), (".hidden", false), ("", false), ("a b", false), ("a/b", false),
            ("../x", false), ("é", false), (String(repeating: "x", count: 128), true),
            (String(repeating: "x", count: 129), false),
        ])
    func idRules(_ id: String, _ valid: Bool) {
        #expect(JobID.isValid(id) == valid)
    }

    @Test("file names: ids, producer temporaries, rejected stems")
    func fileNames() {
        #expect(JobID.id(fromFileName: Array("job-1.json".utf8)) == "job-1")
        #expect(JobID.id(fromFileName: Array("job 1.json".utf8)) == nil)
        #expect(JobID.id(fromFileName: Array(".json".utf8)) == nil)
        #expect(JobID.id(fromFileName: Array("job.txt".utf8)) == nil)
        #expect(JobID.isProducerTemporary(Array(".job.json.XyZ12".utf8)))
        #expect(JobID.isProducerTemporary(Array("job.json.tmp".utf8)))
        #expect(JobID.isProducerTemporary(Array("job.part".utf8)))
        #expect(!JobID.isProducerTemporary(Array("job.json".utf8)))
        let stem = JobID.rejectedStem(for: Array("../bad name\n.json".utf8) + [0xFF])
        #expect(JobID.isValid(stem))
        #expect(stem.hasPrefix("badname.rejected-"))
    }

    @Test("generated ids are valid, unique and time-ordered")
    func generatedIDs() {
        let first = JobID.generate(now: 1_700_000_000.5)
        let second = JobID.generate(now: 1_700_000_001.25)
        #expect(JobID.isValid(first))
        #expect(first.hasPrefix("20231114-221320-500000-"))
        #expect(first < second)
        #expect(Set((0..<1000).map { _ in JobID.generate() }).count == 1000)
    }

    @Test("records validate the fields the spool interprets")
    func recordValidation() throws {
        func record(_ text: String) throws -> JobRecord { try JobRecord(parsing: Array(text.utf8), path: "t.json") }
        #expect(try record(#"{"type": "a", "priority": "high"}"#).priority == 10)
        #expect(try record(#"{"type": "a", "priority": "Medium"}"#).priority == 0)
        #expect(try record(#"{"type": "a", "priority": -5}"#).priority == -5)
        #expect(try record(#"{"type": "a"}"#).priority == 0)
        for bad in [
            #"{"type": ""}"#, #"{"type": "a", "priority": 1001}"#, #"{"type": "a", "priority": "urgent"}"#,
            #"{"type": "a", "timeout": 0}"#, #"{"type": "a", "timeout": "5"}"#, #"{"type": "a", "maxAttempts": 0}"#,
            #"{"type": "a", "maxAttempts": 1.5}"#, #"{"type": ["a"]}"#,
        ] {
            #expect(throws: SpoolError.self, "\(bad)") { try record(bad) }
        }
    }

    @Test("configuration: defaults, handlers, and errors that name the key")
    func configuration() throws {
        let parsed = try SpoolConfiguration(
            parsing: Array(
                """
                {"workers": 4, "backoff": {"base": 0.5, "max": 10},
                 "handlers": {"x": {"command": ["bin/x", "--flag"], "timeout": 30, "concurrency": 1,
                                    "env": {"A": "1"}}, "n": {"builtin": "noop"}}}
                """.utf8), path: "spool.json")
        #expect(parsed.workers == 4)
        #expect(parsed.backoffBase == 0.5)
        #expect(parsed.handlers["x"]?.kind == .command(["bin/x", "--flag"]))
        #expect(parsed.handlers["x"]?.concurrency == 1)
        #expect(parsed.handlers["x"]?.maximumAttempts == 3)
        #expect(parsed.handlers["n"]?.kind == .builtin("noop"))
        let defaults = try SpoolConfiguration(parsing: Array("{}".utf8), path: "spool.json")
        #expect(defaults.workers == 2 && defaults.maximumJobBytes == 4 * 1024 * 1024)

        let cases: [(String, String)] = [
            (#"{"wrokers": 2}"#, "unknown key \"wrokers\""),
            (#"{"handlers": {"x": {"command": "rm -rf /"}}}"#, "an argv, not a shell line"),
            (#"{"handlers": {"x": {}}}"#, "needs \"command\""),
            (#"{"handlers": {"x": {"builtin": "bogus"}}}"#, "must name a built-in handler"),
            (#"{"workers": 0}"#, "\"workers\" must be a positive integer"),
            (#"{"handlers": {"x": {"command": ["a"], "colour": 1}}}"#, "unknown key \"handlers.x.colour\""),
        ]
        for (text, expected) in cases {
            do {
                _ = try SpoolConfiguration(parsing: Array(text.utf8), path: "spool.json")
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.description.contains(expected), "\(error)")
                #expect(error.exitCode == ExitCode.configuration)
            }
        }
    }

    @Test("timestamps format and parse back")
    func timestamps() {
        #expect(Timestamp.format(0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.format(1_700_000_000.123) == "2023-11-14T22:13:20.123Z")
        #expect(Timestamp.parse("2023-11-14T22:13:20.123Z").map { ($0 * 1000).rounded() } == 1_700_000_000_123)
        #expect(Timestamp.parse("2023-11-14T23:13:20+01:00") == 1_700_000_000)
        #expect(Timestamp.parse("yesterday") == nil)
        #expect(Timestamp.parse("2023-13-14T22:13:20Z") == nil)
    }

    @Test("backoff follows min(max, base × 2^(n-1)) less at most 20 % jitter")
    func backoff() {
        let backoff = Backoff(base: 2, maximum: 60)
        #expect((1...7).map { backoff.ceiling(afterAttempt: $0) } == [2, 4, 8, 16, 32, 60, 60])
        var generator = SystemRandomNumberGenerator()
        for attempt in 1...8 {
            for _ in 0..<200 {
                let delay = backoff.delay(afterAttempt: attempt, using: &generator)
                let ceiling = backoff.ceiling(afterAttempt: attempt)
                #expect(delay <= ceiling && delay >= ceiling * 0.8)
            }
        }
    }

    @Test("exit codes of errors are sysexits values")
    func exitCodes() {
        #expect(SpoolError.usage("x").exitCode == 64)
        #expect(SpoolError.invalidJob(path: "a", reason: "b").exitCode == 65)
        #expect(SpoolError.jobNotFound(id: "a").exitCode == 66)
        #expect(SpoolError.duplicateJobID(id: "a", state: "done").exitCode == 73)
        #expect(SpoolError.notASpool(path: "a", reason: "b").description.contains("spool init a"))
    }
}
