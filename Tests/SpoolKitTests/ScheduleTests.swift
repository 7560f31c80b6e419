import Foundation
import SpoolSystem
import Testing

@testable import SpoolKit

/// Schedules driven with an injected clock on a real spool: slots fire once with several
/// processors, and catch-up after a downtime follows the schedule's policy.
@Suite("Schedules")
struct ScheduleTests {
    /// A spool whose one schedule, `tick`, fires every minute with the given catch-up policy.
    static func spool(catchUp: String, extra: String = "") throws -> (Spool, String) {
        let directory = NSTemporaryDirectory() + "spool-schedule-" + JobID.randomSuffix(8)
        _ = try Spool.create(directory)
        let configuration = """
            {"handlers": {"report": {"builtin": "noop"}},
             "schedules": {"tick": {"cron": "* * * * *", "catchUp": "\(catchUp)",
                                    "job": {"type": "report", "payload": {"day": "{date}", "slot": "{slot}"}}\(extra)}}}
            """
        try configuration.write(toFile: directory + "/spool.json", atomically: true, encoding: .utf8)
        return (try Spool.open(directory), directory)
    }

    static func time(_ text: String) -> Double { try! Date.ISO8601FormatStyle().parse(text).timeIntervalSince1970 }

    static func queued(_ spool: Spool) -> [String] {
        JobListing(spool: spool).ids(in: .queued)
    }

    @Test("two processors firing the same slots create each slot's job once")
    func twoProcessors() throws {
        let (spool, directory) = try Self.spool(catchUp: "none")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = ScheduleRunner(store: JobStore(spool: spool))
        let second = ScheduleRunner(store: JobStore(spool: spool))
        let start = Self.time("2026-11-23T10:00:30Z")
        #expect(first.fireDue(now: start).isEmpty)  // first sight: slots start now
        var created: [String] = []
        for minute in 1...5 {
            let now = start + Double(minute) * 60
            for runner in [first, second, second, first] {
                for firing in runner.fireDue(now: now) { created += firing.created }
            }
        }
        #expect(created == (1...5).map { "tick@20261123T10\(String(format: "%02d", $0))00Z" })
        #expect(Self.queued(spool) == created)
        let record = try JobRecord(
            parsing: FileSystem.readFile(spool.layout.jobPath(created[0], in: .queued)), path: created[0])
        #expect(record.fields["scheduledFor"]?.stringValue == "2026-11-23T10:01:00.000Z")
        #expect(record.fields["correlation"]?.stringValue == "2026-11-23T10:01:00.000Z")
        #expect(record.fields["payload"]?.objectValue?["day"]?.stringValue == "2026-11-23")
        #expect(record.fields["schedule"]?.stringValue == "tick")
    }

    @Test(
        "after a downtime: none fires only the slot due now, latest the last missed one, all every one",
        arguments: [
            ("none", ["tick@20261123T101000Z"]),
            ("latest", ["tick@20261123T101000Z"]),
            ("all", (1...10).map { "tick@20261123T10\(String(format: "%02d", $0))00Z" }),
        ])
    func catchUp(_ row: (String, [String])) throws {
        let (spool, directory) = try Self.spool(catchUp: row.0)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let runner = ScheduleRunner(store: JobStore(spool: spool))
        runner.fireDue(now: Self.time("2026-11-23T10:00:00Z"))
        // Down for ten minutes; back 20 s after the 10:10 slot.
        let firings = runner.fireDue(now: Self.time("2026-11-23T10:10:20Z"))
        #expect(firings.flatMap(\.created) == row.1)
        #expect(firings.first?.passedOver == (row.0 != "all"))
        // Nothing fires twice, nor is anything caught up later.
        #expect(runner.fireDue(now: Self.time("2026-11-23T10:10:50Z")).flatMap(\.created).isEmpty)
        #expect(Self.queued(spool) == row.1)
    }

    @Test("catchUp none skips a slot that is more than a minute late; latest still fires it")
    func lateSlot() throws {
        for (policy, expected) in [("none", [String]()), ("latest", ["tick@20261123T100500Z"])] {
            let (_, directory) = try Self.spool(catchUp: policy)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            // Hourly-ish: at minute 5 only.
            try """
            {"handlers": {"report": {"builtin": "noop"}},
             "schedules": {"tick": {"cron": "5 * * * *", "catchUp": "\(policy)", "job": {"type": "report"}}}}
            """.write(toFile: directory + "/spool.json", atomically: true, encoding: .utf8)
            let runner = ScheduleRunner(store: JobStore(spool: try Spool.open(directory)))
            runner.fireDue(now: Self.time("2026-11-23T10:00:00Z"))
            let made = runner.fireDue(now: Self.time("2026-11-23T10:08:00Z")).flatMap(\.created)
            #expect(made == expected, "\(policy)")
        }
    }

    @Test("bad schedules are refused, naming the key")
    func badSchedules() throws {
        let cases: [(String, String)] = [
            (#"{"cron": "61 * * * *", "job": {"type": "report"}}"#, "schedules.s.cron"),
            (#"{"cron": "* * * * *", "job": {"type": "nosuch"}}"#, "unknown type \"nosuch\""),
            (#"{"cron": "* * * * *", "job": {"type": "report"}, "timezone": "Mars/Olympus"}"#, "schedules.s.timezone"),
            (#"{"cron": "* * * * *", "job": {"type": "report"}, "catchUp": "some"}"#, "schedules.s.catchUp"),
            (#"{"cron": "* * * * *"}"#, "schedules.s.job"),
            (#"{"cron": "* * * * *", "job": {"type": "report"}, "every": 5}"#, "unknown key \"schedules.s.every\""),
        ]
        for (entry, expected) in cases {
            let text = #"{"handlers": {"report": {"builtin": "noop"}}, "schedules": {"s": \#(entry)}}"#
            #expect(throws: SpoolError.self) { try SpoolConfiguration(parsing: Array(text.utf8), path: "spool.json") }
            do { _ = try SpoolConfiguration(parsing: Array(text.utf8), path: "spool.json") } catch {
                #expect(error.description.contains(expected), "\(entry): \(error)")
            }
        }
    }
}
