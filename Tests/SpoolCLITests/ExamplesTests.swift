import Foundation
import SpoolSystem
import Testing

/// The quick start's example jobs, run against a copy of the embedded spool's configuration.
@Suite("Examples")
struct ExamplesTests {
    static let repository: URL = {
        var directory = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { directory.deleteLastPathComponent() }
        return directory
    }()

    @Test("every example job ends in done/ with its result file; the failing example fails with its reason")
    func examplesRun() throws {
        let spool = try TestSpool(configuration: "{}")
        // The embedded config names handlers as ../examples/handlers/...: mirror that layout.
        try FileManager.default.copyItem(
            atPath: Self.repository.appendingPathComponent("examples").path, toPath: spool.scratch + "/examples")
        try FileManager.default.removeItem(atPath: spool.root + "/spool.json")
        try FileManager.default.copyItem(
            atPath: Self.repository.appendingPathComponent("spool/spool.json").path, toPath: spool.root + "/spool.json")
        let jobs = try FileManager.default.contentsOfDirectory(atPath: spool.scratch + "/examples/jobs")
            .filter { $0.hasSuffix(".json") }.sorted().map { spool.scratch + "/examples/jobs/" + $0 }
        #expect(jobs.count >= 5)
        let submitted = try spool.spool(["submit"] + jobs)
        #expect(submitted.status == 0, "\(submitted.standardError)")
        let ids = submitted.standardOutput.split(separator: "\n").map(String.init)
        let failing = try spool.spool(["submit", spool.scratch + "/examples/failing/fail.json", "--id", "failing"])
        #expect(failing.status == 0)

        let run = try spool.spool(["run", "--drain"])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(Set(spool.jobIDs(in: "done")) == Set(ids))
        for id in ids {
            let result = try #require(spool.contents("results/\(id).out"), "result of \(id)")
            let type = try spool.record(id, in: "done")["type"] as? String
            if type != "noop" { #expect(!result.isEmpty, "\(type ?? "?") produced no result") }
        }
        #expect(
            spool.contents(
                "results/" + ids[ids.firstIndex { (try? spool.record($0, in: "done")["type"] as? String) == "greet" }!]
                    + ".out") == "Hello, Ada!\n")
        #expect(try spool.record("failing", in: "failed")["error"] as? String == "exit 3")
    }
}
