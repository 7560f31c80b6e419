import Foundation
import SpoolSystem

/// A cron expression: when a schedule fires.
///
/// - 5 fields, `minute hour day-of-month month day-of-week` (as in crontab), or 6 fields with the
///   seconds first, `second minute hour day-of-month month day-of-week` (as Spring's and Quartz's
///   `0 30 5 * * ?`);
/// - each field `*`, a value, a range `a-b`, a step `*/s`, `a/s` or `a-b/s`, or a list of these
///   separated by commas; months `JAN`–`DEC` and weekdays `SUN`–`SAT` by name (any case);
///   weekdays 0–7 with 0 and 7 Sunday; `?` in a day field means "no restriction", like `*`;
/// - `@yearly` (`@annually`), `@quarterly`, `@monthly`, `@weekly` (Monday, 00:00), `@daily`
///   (`@midnight`), `@hourly`.
///
/// As in Vixie cron, when both the day of the month and the day of the week are restricted, a
/// day matches if either matches (`0 0 1,15 * MON`: the 1st, the 15th, and every Monday).
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    public let seconds: Set<Int>
    public let minutes: Set<Int>
    public let hours: Set<Int>
    public let daysOfMonth: Set<Int>
    public let months: Set<Int>
    /// 0 (Sunday) to 6.
    public let daysOfWeek: Set<Int>
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool
    /// The text it was parsed from.
    public let description: String

    private static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@quarterly": "0 0 1 1,4,7,10 *",
        "@monthly": "0 0 1 * *", "@weekly": "0 0 * * MON", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
        "@hourly": "0 * * * *",
    ]
    private static let monthNames = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ]
    private static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    /// Parses an expression; the error names the field and what is wrong with it.
    public init(parsing text: String) throws(CronError) {
        let trimmed = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
        let expanded: String
        if trimmed.hasPrefix("@") {
            guard let macro = Self.macros[trimmed.lowercased()] else {
                throw CronError(
                    "unknown macro '\(trimmed)' (known: \(Self.macros.keys.sorted().joined(separator: ", ")))")
            }
            expanded = macro
        } else {
            expanded = trimmed
        }
        var fields = expanded.split(separator: " ").map(String.init)
        guard fields.count == 5 || fields.count == 6 else {
            throw CronError(
                "'\(text)' has \(fields.count) fields; a cron expression has 5 (minute hour day month weekday) "
                    + "or 6 (second first)")
        }
        if fields.count == 5 { fields.insert("0", at: 0) }
        seconds = try Self.field(fields[0], name: "second", range: 0...59)
        minutes = try Self.field(fields[1], name: "minute", range: 0...59)
        hours = try Self.field(fields[2], name: "hour", range: 0...23)
        daysOfMonth = try Self.field(fields[3], name: "day of month", range: 1...31, allowsQuestionMark: true)
        months = try Self.field(fields[4], name: "month", range: 1...12, names: Self.monthNames, firstName: 1)
        let weekdays = try Self.field(
            fields[5], name: "day of week", range: 0...7, names: Self.dayNames, firstName: 0, allowsQuestionMark: true)
        daysOfWeek = Set(weekdays.map { $0 % 7 })
        dayOfMonthRestricted = !["*", "?"].contains(fields[3])
        dayOfWeekRestricted = !["*", "?"].contains(fields[5])
        description = text
    }

    private static func field(
        _ text: String, name: String, range: ClosedRange<Int>, names: [String] = [], firstName: Int = 0,
        allowsQuestionMark: Bool = false
    ) throws(CronError) -> Set<Int> {
        if text == "?" {
            guard allowsQuestionMark else { throw CronError("'?' is allowed only in the day fields, not the \(name)") }
            return Set(range)
        }
        var values = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, !pieces[0].isEmpty else {
                throw CronError("the \(name) field has a bad part '\(part)'")
            }
            var step = 1
            if pieces.count == 2 {
                guard let number = Int(pieces[1]), number >= 1 else {
                    throw CronError("the \(name) field's step '\(pieces[1])' must be a positive number")
                }
                step = number
            }
            let lower: Int
            let upper: Int
            if pieces[0] == "*" {
                (lower, upper) = (range.lowerBound, range.upperBound)
            } else {
                let bounds = pieces[0].split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count <= 2 else { throw CronError("the \(name) field has a bad range '\(pieces[0])'") }
                lower = try value(String(bounds[0]), name: name, range: range, names: names, firstName: firstName)
                if bounds.count == 2 {
                    upper = try value(String(bounds[1]), name: name, range: range, names: names, firstName: firstName)
                    guard lower <= upper else {
                        throw CronError("the \(name) field's range '\(pieces[0])' runs backwards")
                    }
                } else {
                    // `a/s` means from a to the end, in steps of s.
                    upper = pieces.count == 2 ? range.upperBound : lower
                }
            }
            values.formUnion(stride(from: lower, through: upper, by: step))
        }
        return values
    }

    private static func value(
        _ text: String, name: String, range: ClosedRange<Int>, names: [String], firstName: Int
    ) throws(CronError) -> Int {
        if let number = Int(text) {
            guard range.contains(number) else {
                throw CronError(
                    "the \(name) field's value \(number) is outside \(range.lowerBound)-\(range.upperBound)")
            }
            return number
        }
        if let index = names.firstIndex(of: text.uppercased()) { return index + firstName }
        throw CronError("the \(name) field has '\(text)', which is neither a number nor a name")
    }

    /// Whether a day (its day of the month, 1-31, and weekday, 0 = Sunday) matches.
    func matchesDay(dayOfMonth: Int, weekday: Int) -> Bool {
        switch (dayOfMonthRestricted, dayOfWeekRestricted) {
        case (true, true): return daysOfMonth.contains(dayOfMonth) || daysOfWeek.contains(weekday)
        case (true, false): return daysOfMonth.contains(dayOfMonth)
        case (false, true): return daysOfWeek.contains(weekday)
        case (false, false): return true
        }
    }

    /// The first time strictly after `time` (seconds since the epoch) that the expression
    /// matches on the wall clock of `timeZone`, or nil if there is none within 30 years (say
    /// `0 0 30 2 *`). A wall-clock time skipped by a daylight-saving change does not fire that
    /// day; one that occurs twice fires the first time only.
    public func nextTime(after time: Double, in timeZone: TimeZone = TimeZone(identifier: "UTC")!) -> Double? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        var candidate = (time + 1).rounded(.down)
        let horizon = time + 30 * 366 * 86400
        while candidate <= horizon {
            let date = Date(timeIntervalSince1970: candidate)
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
            guard let year = parts.year, let month = parts.month, let day = parts.day, let hour = parts.hour,
                let minute = parts.minute, let second = parts.second, let weekday = parts.weekday
            else { return nil }
            if !months.contains(month) {
                candidate = startOf(year: month == 12 ? year + 1 : year, month: month % 12 + 1, calendar) ?? horizon + 1
                continue
            }
            if !matchesDay(dayOfMonth: day, weekday: weekday - 1) {
                candidate =
                    calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: date))?
                    .timeIntervalSince1970 ?? horizon + 1
                continue
            }
            if !hours.contains(hour) {
                // The start of the next hour, in absolute time (a daylight-saving change moves
                // the wall clock, not the hours that pass).
                candidate += Double(3600 - minute * 60 - second)
                continue
            }
            if !minutes.contains(minute) {
                guard let next = minutes.filter({ $0 > minute }).min() else {
                    candidate += Double(3600 - minute * 60 - second)
                    continue
                }
                candidate += Double((next - minute) * 60 - second)
                continue
            }
            if !seconds.contains(second) {
                guard let next = seconds.filter({ $0 > second }).min() else {
                    candidate += Double(60 - second)
                    continue
                }
                candidate += Double(next - second)
                continue
            }
            if isRepeatedWallClock(candidate, timeZone) {
                candidate += 1
                continue
            }
            return candidate
        }
        return nil
    }

    private func startOf(year: Int, month: Int, _ calendar: Calendar) -> Double? {
        calendar.date(from: DateComponents(year: year, month: month, day: 1, hour: 0, minute: 0, second: 0))?
            .timeIntervalSince1970
    }

    /// Whether the wall-clock time at `time` already occurred earlier (the hour a clock set
    /// back for the end of daylight-saving time shows twice).
    private func isRepeatedWallClock(_ time: Double, _ timeZone: TimeZone) -> Bool {
        let now = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: time))
        let before = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: time - 7200))
        let shift = before - now
        guard shift > 0 else { return false }
        // The same wall clock `shift` seconds earlier, before the change.
        return timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: time - Double(shift))) == before
    }
}

/// A cron expression that cannot be used, with a message naming the field.
public struct CronError: Error, Sendable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
