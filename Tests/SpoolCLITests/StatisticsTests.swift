import Foundation
import Glibc
import SpoolSystem
import Testing

/// `spool stats`: counts from the directories, the rest from the event journal.
@Suite("Statistics")
struct StatisticsTests {
    /// The nearest-rank percentile, computed here independently of the code under test.
    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        let sorted = values.sorted()
        return sorted[max(1, Int((fraction * Double(sorted.count)).rounded(.up))) - 1]
    }

    @Test("after 1,000 jobs, stats --json matches the directories and the journal")
    func statisticsMatchDirectoriesAndJournal() throws {
        let spool = try TestSpool(
            configuration: """
                {"workers": 4, "handlers": {
                  "ok": {"command": ["/bin/true"]},
                  "bad": \(TestSpool.shellHandler("exit 3", extra: "\"maxAttempts\": 1")),
                  "later": {"command": ["/bin/true"]}}}
                """)
        #expect(try spool.spool(["hold", "--type", "later"]).status == 0)
        let ids = try spool.dropMany(1000) { index in
            let type = index % 10 == 0 ? "bad" : index % 25 == 1 ? "later" : "ok"
            return #"{"type": "\#(type)", "project": "p\#(index % 3)"}"#
        }
        #expect(ids.count == 1000)
        let run = try spool.spool(["run", "--drain", "--quiet"])
        #expect(run.status == 0)
        // A job held away from the run: it stays queued, and counts as queued.
        #expect(try spool.spool(["release", "--type", "later"]).status == 0)

        let result = try spool.spool(["stats", "--json"])
        #expect(result.status == 0)
        let stats = try #require(
            try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])

        // Counts: each state directory, and each type and project from the files themselves.
        var byType: [String: [String: Int]] = [:]
        var byProject: [String: [String: Int]] = [:]
        var total = 0
        for (directory, name) in [
            ("queued", "queued"), ("processing", "running"), ("done", "done"), ("failed", "failed"),
        ] {
            let jobs = spool.jobIDs(in: directory)
            total += jobs.count
            #expect(stats[name] as? Int == jobs.count, "\(name)")
            for id in jobs {
                let record = try spool.record(id, in: directory)
                byType[record["type"] as! String, default: [:]][name, default: 0] += 1
                byProject[record["project"] as! String, default: [:]][name, default: 0] += 1
            }
        }
        #expect(total == 1000)
        #expect(stats["total"] as? Int == 1000)
        #expect(spool.jobIDs(in: "failed").count == 100)
        for (key, table) in [("byType", byType), ("byProject", byProject)] {
            let reported = try #require(stats[key] as? [String: [String: Int]])
            #expect(Set(reported.keys) == Set(table.keys))
            for (name, counts) in table {
                for (state, count) in counts { #expect(reported[name]?[state] == count, "\(key) \(name) \(state)") }
            }
        }

        // Throughput and percentiles: from the journal, recomputed here.
        let events = try EventJournalTests.events(spool)
        let endings = events.filter { ["done", "failed", "cancelled"].contains($0["to"] as? String ?? "") }
        #expect(endings.count == 960)
        let throughput = try #require(stats["throughput"] as? [String: [String: Any]])
        #expect(throughput["60m"]?["ended"] as? Int == endings.count)
        let types = try #require(stats["types"] as? [String: [String: Any]])
        for type in ["ok", "bad"] {
            let durations = endings.filter { $0["type"] as? String == type }.compactMap { $0["duration"] as? Double }
            let figures = try #require(types[type])
            let reported = try #require(figures["durationSeconds"] as? [String: Double])
            for (name, fraction) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
                #expect(abs(reported[name]! - Self.percentile(durations, fraction)) < 0.0006, "\(type) \(name)")
            }
            let cpu = endings.filter { $0["type"] as? String == type }.compactMap {
                ($0["cpuSeconds"] as? NSNumber)?.doubleValue
            }
            #expect(abs((figures["cpuSeconds"] as? Double ?? -1) - cpu.reduce(0, +)) < 0.01)
        }
        #expect(types["bad"]?["failureRate"] as? Double == 1)
        #expect(types["ok"]?["failureRate"] as? Double == 0)
        #expect((types["ok"]?["maxRSS"] as? Int).map { $0 > 0 } == true)
        // The 40 held jobs are the queue, all young.
        let queueAge = try #require(stats["queueAge"] as? [[String: Any]])
        #expect(queueAge.first?["count"] as? Int == 40)
        #expect((stats["oldestQueued"] as? [String: Any])?["id"] is String)

        let human = try spool.spool(["stats"])
        #expect(human.standardOutput.contains("total 1000"))
        #expect(human.standardOutput.split(separator: "\n").allSatisfy { $0.count <= 80 })
    }

    @Test("finished jobs the journal no longer knows are counted from their files")
    func jobsBeyondTheJournalAreCounted() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"ok": {"command": ["/bin/true"]}}}"#)
        try #"{"type": "ok", "status": "done"}"#.write(
            toFile: spool.root + "/done/old.json", atomically: true, encoding: .utf8)
        let stats = try #require(
            try JSONSerialization.jsonObject(with: Data(try spool.spool(["stats", "--json"]).standardOutput.utf8))
                as? [String: Any])
        #expect(((stats["byType"] as? [String: [String: Int]])?["ok"])?["done"] == 1)
    }
}
