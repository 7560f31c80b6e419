import Foundation
import SpoolSystem
import Testing

/// Schedules fired by real processors sharing one spool.
@Suite("Schedules with processors")
struct ScheduleProcessTests {
    @Test("two processors on a schedule firing every second: each slot's job is made and run once")
    func everySecond() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/trace"
        try """
        {"handlers": {"tick": \(TestSpool.shellHandler("echo \"$SPOOL_JOB_ID\" >> \(trace)"))},
         "schedules": {"every-second": {"cron": "* * * * * *", "job": {"type": "tick"}}}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        let listed = try spool.spool(["schedules"])
        #expect(listed.standardOutput.contains("every-second: * * * * * * (UTC, catchUp none) → type tick"))
        let processors = try (0..<2).map { _ in try spool.startProcessor() }
        #expect(spool.waitUntil(timeout: 30) { DependencyTests.lines(trace).count >= 4 })
        for processor in processors { #expect(spool.stop(processor) == 0) }
        let ran = DependencyTests.lines(trace)
        #expect(Set(ran).count == ran.count, "a slot ran twice: \(ran)")
        #expect(ran.allSatisfy { $0.hasPrefix("every-second@") && $0.hasSuffix("Z") })
        // The slots are whole seconds, one apart, none skipped while the processors ran.
        let seconds = ran.sorted().compactMap { id -> Int? in
            let stamp = id.split(separator: "@")[1]
            return Int(stamp.dropFirst(9).prefix(6)).map { ($0 / 10000) * 3600 + ($0 / 100 % 100) * 60 + $0 % 100 }
        }
        #expect(zip(seconds, seconds.dropFirst()).allSatisfy { $1 - $0 == 1 }, "\(ran.sorted())")
        #expect(spool.names(in: "failed").isEmpty)
    }
}
