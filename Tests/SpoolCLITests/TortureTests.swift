import Foundation
import Glibc
import SpoolSystem
import Testing

/// Proofs of the promises under abuse (issue 8). Each runs a short form in CI; the long forms
/// run the same code for longer: `sh tests/scripts/torture.sh NAME SECONDS` (see README, "Tests").
@Suite("Torture: kill -9, exclusive execution, recovery never steals", .serialized)
struct TortureTests {
    /// Seconds a torture runs: SPOOL_TORTURE_SECONDS for the long form, else the CI form.
    static func duration(ci: Double) -> Double {
        ProcessInfo.processInfo.environment["SPOOL_TORTURE_SECONDS"].flatMap(Double.init) ?? ci
    }

    /// Appends a result line to SPOOL_TORTURE_REPORT (the long-form script records it).
    static func record(_ line: String) {
        guard let path = ProcessInfo.processInfo.environment["SPOOL_TORTURE_REPORT"] else { return }
        let handle =
            FileHandle(forWritingAtPath: path)
            ?? {
                _ = FileManager.default.createFile(atPath: path, contents: nil)
                return FileHandle(forWritingAtPath: path)
            }()
        handle?.seekToEndOfFile()
        handle?.write(Data((line + "\n").utf8))
        try? handle?.close()
    }

    @Test("kill -9 torture: 8 processors, one SIGKILLed every 50-500 ms and restarted; every job done exactly once")
    func killNine() throws {
        let seconds = Self.duration(ci: 30)
        let spool = try TestSpool(
            configuration: #"{"handlers": {"t": {"command": ["/bin/true"], "maxAttempts": 1000}}}"#)
        // Enough jobs that the processors are busy for the whole run (refilled below).
        var ids = try spool.dropMany(2000, prefix: "a") { _ in #"{"type": "t"}"# }
        var processors = try (0..<8).map { _ in try spool.startProcessor(["--workers", "2", "--quiet"]) }
        var generator = SystemRandomNumberGenerator()
        var kills = 0
        var batch = 0
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            usleep(UInt32.random(in: 50_000...500_000, using: &generator))
            let victim = Int.random(in: 0..<processors.count, using: &generator)
            kill(processors[victim].processIdentifier, SIGKILL)
            processors[victim].waitUntilExit()
            kills += 1
            processors[victim] = try spool.startProcessor(["--workers", "2", "--quiet"])
            if spool.names(in: "queued").count < 500 {
                batch += 1
                ids += try spool.dropMany(1000, prefix: "b\(batch)") { _ in #"{"type": "t"}"# }
            }
        }
        for processor in processors { _ = spool.stop(processor) }
        let drain = try spool.spool(["run", "--drain", "--quiet", "--workers", "4"])
        #expect(drain.status == 0, "\(drain.standardError)")

        let done = spool.jobIDs(in: "done")
        let lost = Set(ids).subtracting(done)
        #expect(lost.isEmpty, "lost: \(lost.sorted().prefix(10))")
        // done/ holds each id once by construction (one name per id); a second run that tried to
        // finish would have been kept as failed/ID.rejected-*.json: there must be none.
        #expect(spool.names(in: "failed").isEmpty, "\(spool.names(in: "failed").prefix(10))")
        #expect(Set(done) == Set(ids))
        let fsck = try spool.spool(["fsck"])
        #expect(fsck.status == 0, "\(fsck.standardOutput)")
        Self.record(
            "kill-9 torture: \(seconds) s, \(ids.count) jobs, \(kills) kills, lost \(lost.count), "
                + "duplicated \(spool.names(in: "failed").count), fsck exit \(fsck.status)")
    }

    @Test("exclusive execution: 16 processors, instant jobs, no overlapping runs of any id")
    func exclusiveExecution() throws {
        let count = Int(ProcessInfo.processInfo.environment["SPOOL_TORTURE_JOBS"] ?? "") ?? 10_000
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/trace"
        // One O_APPEND write per line: the file's line order is the global order of the events.
        let script = "echo \"start $SPOOL_JOB_ID\" >> \(trace); echo \"end $SPOOL_JOB_ID\" >> \(trace)"
        try """
        {"handlers": {"x": \(TestSpool.shellHandler(script))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        let ids = try spool.dropMany(count) { _ in #"{"type": "x"}"# }
        let processors = try (0..<16).map { _ in try spool.startProcessor(["--workers", "2", "--quiet"]) }
        #expect(spool.waitUntil(timeout: 600) { spool.names(in: "done").count == count })
        for processor in processors { #expect(spool.stop(processor) == 0) }

        var open = Set<String>()
        var runs: [String: Int] = [:]
        var overlaps: [String] = []
        for line in try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { continue }
            let id = String(parts[1])
            if parts[0] == "start" {
                if !open.insert(id).inserted { overlaps.append(id) }
                runs[id, default: 0] += 1
            } else {
                open.remove(id)
            }
        }
        #expect(overlaps.isEmpty, "overlapping runs: \(overlaps.prefix(10))")
        #expect(Set(runs.keys) == Set(ids))
        // Without crashes every job runs exactly once.
        #expect(runs.values.allSatisfy { $0 == 1 })
        Self.record("exclusive execution: \(count) jobs, 16 processors, overlaps \(overlaps.count)")
    }

    @Test("recovery never steals: recovery in a loop beside live long jobs moves none of them")
    func recoveryNeverSteals() throws {
        let seconds = Self.duration(ci: 4)
        let spool = try TestSpool(
            configuration: #"{"handlers": {"long": \#(TestSpool.shellHandler("sleep \(seconds + 1)"))}}"#)
        let ids = try spool.dropMany(4) { _ in #"{"type": "long"}"# }
        let processors = try (0..<2).map { _ in try spool.startProcessor(["--workers", "2", "--quiet"]) }
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "processing").count == 4 })
        let deadline = Date().addingTimeInterval(seconds)
        var passes = 0
        while Date() < deadline {
            // fsck --repair runs a recovery pass; the processors' own rescans run theirs too.
            let check = try spool.spool(["fsck", "--repair", "--json"])
            #expect(!check.standardOutput.contains("\"orphan\""), "\(check.standardOutput)")
            // Each live claim is reported as running, never as recoverable.
            #expect(check.standardOutput.contains("\"running\": 4"), "\(check.standardOutput)")
            passes += 1
        }
        #expect(spool.jobIDs(in: "processing").sorted() == ids)
        #expect(spool.waitUntil(timeout: 60) { spool.jobIDs(in: "done").count == 4 })
        for processor in processors { #expect(spool.stop(processor) == 0) }
        for id in ids {
            #expect(try spool.record(id, in: "done")["attempts"] as? Int == 1)
            #expect(spool.contents("logs/\(id).log")?.contains("recovered") == false)
        }
        Self.record("recovery never steals: \(passes) recovery passes beside 4 live jobs, 0 moved")
    }
}
