import Foundation
import SpoolSystem
import Testing

@testable import SpoolKit

/// Cron expressions: parsing, next fire times, and errors that name the field.
@Suite("Cron expressions")
struct CronExpressionTests {
    static func time(_ text: String) -> Double {
        let style = Date.ISO8601FormatStyle()
        return try! style.parse(text).timeIntervalSince1970
    }

    static func text(_ time: Double) -> String {
        Date(timeIntervalSince1970: time).formatted(Date.ISO8601FormatStyle())
    }

    /// Expression, the time after which to look (UTC), the expected next time (UTC). The expected
    /// times of the first 44 rows were cross-checked with the croniter library (Python), with the
    /// seconds field moved to croniter's order; the time-zone rows were worked out by hand.
    static let table: [(String, String, String)] = [
        ("* * * * *", "2026-11-23T10:15:30Z", "2026-11-23T10:16:00Z"),
        ("*/5 * * * *", "2026-11-23T10:15:30Z", "2026-11-23T10:20:00Z"),
        ("0 * * * *", "2026-11-23T10:15:30Z", "2026-11-23T11:00:00Z"),
        ("30 5 * * *", "2026-11-23T10:15:30Z", "2026-11-24T05:30:00Z"),
        ("30 5 * * *", "2026-11-23T05:29:59Z", "2026-11-23T05:30:00Z"),
        ("30 5 * * *", "2026-11-23T05:30:00Z", "2026-11-24T05:30:00Z"),
        ("0 0 1 * *", "2026-11-23T10:15:30Z", "2026-12-01T00:00:00Z"),
        ("0 0 31 * *", "2026-11-23T10:15:30Z", "2026-12-31T00:00:00Z"),
        ("0 0 31 * *", "2026-12-31T00:00:00Z", "2027-01-31T00:00:00Z"),
        ("0 0 30 * *", "2027-01-30T12:00:00Z", "2027-03-30T00:00:00Z"),
        ("0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
        ("0 12 29 2 *", "2027-06-01T00:00:00Z", "2028-02-29T12:00:00Z"),
        ("0 0 * * 0", "2026-11-23T10:15:30Z", "2026-11-29T00:00:00Z"),
        ("0 0 * * 7", "2026-11-23T10:15:30Z", "2026-11-29T00:00:00Z"),
        ("0 0 * * SUN", "2026-11-23T10:15:30Z", "2026-11-29T00:00:00Z"),
        ("0 9 * * MON-FRI", "2026-11-27T10:00:00Z", "2026-11-30T09:00:00Z"),
        ("0 9 * * mon-fri", "2026-11-28T10:00:00Z", "2026-11-30T09:00:00Z"),
        ("15 14 1 * *", "2026-11-23T10:15:30Z", "2026-12-01T14:15:00Z"),
        ("0 22 * * 1-5", "2026-11-23T22:00:00Z", "2026-11-24T22:00:00Z"),
        ("23 0-20/2 * * *", "2026-11-23T10:15:30Z", "2026-11-23T10:23:00Z"),
        ("5 4 * * sun", "2026-11-23T10:15:30Z", "2026-11-29T04:05:00Z"),
        ("0 0,12 1 */2 *", "2026-11-23T10:15:30Z", "2027-01-01T00:00:00Z"),
        ("0 4 8-14 * *", "2026-11-23T10:15:30Z", "2026-12-08T04:00:00Z"),
        ("0 0 1,15 * 3", "2026-11-23T10:15:30Z", "2026-11-25T00:00:00Z"),
        ("0 0 1,15 * WED", "2026-11-26T00:00:00Z", "2026-12-01T00:00:00Z"),
        ("0 0 13 * 5", "2026-11-23T10:15:30Z", "2026-11-27T00:00:00Z"),
        ("59 23 31 12 *", "2026-11-23T10:15:30Z", "2026-12-31T23:59:00Z"),
        ("0 0 1 JAN *", "2026-11-23T10:15:30Z", "2027-01-01T00:00:00Z"),
        ("0 0 1 jan,jul *", "2026-11-23T10:15:30Z", "2027-01-01T00:00:00Z"),
        ("0 0 1 1,4,7,10 *", "2026-11-23T10:15:30Z", "2027-01-01T00:00:00Z"),
        ("0 6 * * 1", "2026-11-23T06:00:00Z", "2026-11-30T06:00:00Z"),
        ("*/15 9-17 * * *", "2026-11-23T17:46:00Z", "2026-11-24T09:00:00Z"),
        ("10-20/5 * * * *", "2026-11-23T10:21:00Z", "2026-11-23T11:10:00Z"),
        ("5/20 * * * *", "2026-11-23T10:46:00Z", "2026-11-23T11:05:00Z"),
        ("0 30 5 * * ?", "2026-11-23T10:15:30Z", "2026-11-24T05:30:00Z"),
        ("0 30 5 * * MON", "2026-11-23T10:15:30Z", "2026-11-30T05:30:00Z"),
        ("0 30 5 1 * ?", "2026-11-23T10:15:30Z", "2026-12-01T05:30:00Z"),
        ("0 30 5 1 1,4,7,10 ?", "2026-11-23T10:15:30Z", "2027-01-01T05:30:00Z"),
        ("0 30 5 1 1 ?", "2026-11-23T10:15:30Z", "2027-01-01T05:30:00Z"),
        ("0 */2 * * * ?", "2026-11-23T10:15:30Z", "2026-11-23T10:16:00Z"),
        ("*/10 * * * * *", "2026-11-23T10:15:30Z", "2026-11-23T10:15:40Z"),
        ("30 * * * * *", "2026-11-23T10:15:30Z", "2026-11-23T10:16:30Z"),
        ("15,45 0 12 * * *", "2026-11-23T12:00:20Z", "2026-11-23T12:00:45Z"),
        ("0 0 0 ? * SAT,SUN", "2026-11-23T10:15:30Z", "2026-11-28T00:00:00Z"),
    ]

    @Test("next fire times over a table of expressions", arguments: table)
    func nextTimes(_ row: (String, String, String)) throws {
        let expression = try CronExpression(parsing: row.0)
        let next = try #require(expression.nextTime(after: Self.time(row.1)))
        #expect(Self.text(next) == row.2, "\(row.0) after \(row.1)")
    }

    static let zoned: [(String, String, String, String)] = [
        // New York springs forward on 2026-03-08 at 02:00: 02:30 does not exist that day.
        ("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-09T06:30:00Z"),
        ("30 1 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T06:30:00Z"),
        // It falls back on 2026-11-01 at 02:00: 01:30 happens twice and fires once.
        ("30 1 * * *", "America/New_York", "2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z"),
        ("30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"),
        ("0 * * * *", "America/New_York", "2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z"),
        ("0 30 5 * * ?", "America/New_York", "2026-11-23T10:15:30Z", "2026-11-23T10:30:00Z"),
        ("0 30 5 * * ?", "America/New_York", "2026-11-23T10:30:00Z", "2026-11-24T10:30:00Z"),
        // Berlin springs forward on 2026-03-29 from 02:00 to 03:00: 03:00 exists.
        ("0 3 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"),
        ("@daily", "Asia/Tokyo", "2026-11-23T10:15:30Z", "2026-11-23T15:00:00Z"),
    ]

    @Test("next fire times on the wall clock of a time zone, across daylight-saving changes", arguments: zoned)
    func zonedTimes(_ row: (String, String, String, String)) throws {
        let expression = try CronExpression(parsing: row.0)
        let zone = try #require(TimeZone(identifier: row.1))
        let next = try #require(expression.nextTime(after: Self.time(row.2), in: zone))
        #expect(Self.text(next) == row.3, "\(row.0) in \(row.1) after \(row.2)")
    }

    @Test("macros expand to their expressions")
    func macros() throws {
        let base = Self.time("2026-11-23T10:15:30Z")
        let expected: [String: String] = [
            "@hourly": "2026-11-23T11:00:00Z", "@daily": "2026-11-24T00:00:00Z", "@midnight": "2026-11-24T00:00:00Z",
            "@weekly": "2026-11-30T00:00:00Z", "@monthly": "2026-12-01T00:00:00Z",
            "@quarterly": "2027-01-01T00:00:00Z", "@yearly": "2027-01-01T00:00:00Z",
            "@annually": "2027-01-01T00:00:00Z",
        ]
        for (macro, next) in expected {
            #expect(try CronExpression(parsing: macro).nextTime(after: base).map(Self.text) == next, "\(macro)")
        }
    }

    @Test("an expression that never matches has no next time")
    func never() throws {
        #expect(try CronExpression(parsing: "0 0 30 2 *").nextTime(after: Self.time("2026-01-01T00:00:00Z")) == nil)
    }

    @Test(
        "bad expressions are refused, naming the field",
        arguments: [
            ("* * * *", "has 4 fields"),
            ("60 * * * *", "minute field's value 60 is outside 0-59"),
            ("* 24 * * *", "hour field's value 24"),
            ("* * 0 * *", "day of month field's value 0"),
            ("* * * 13 *", "month field's value 13"),
            ("* * * * 8", "day of week field's value 8"),
            ("*/0 * * * *", "step '0' must be a positive number"),
            ("5-1 * * * *", "range '5-1' runs backwards"),
            ("? * * * *", "'?' is allowed only in the day fields"),
            ("* * * FOO *", "'FOO', which is neither a number nor a name"),
            ("@fortnightly", "unknown macro"),
            ("1,,2 * * * *", "bad part"),
        ])
    func errors(_ row: (String, String)) {
        #expect(throws: CronError.self) { try CronExpression(parsing: row.0) }
        do {
            _ = try CronExpression(parsing: row.0)
        } catch {
            #expect(error.message.contains(row.1), "\(row.0): \(error.message)")
        }
    }
}
