import Foundation
import SpoolJSON
import SpoolSystem

/// What a schedule does with slots that came due while no processor ran.
public enum CatchUpPolicy: String, Sendable, CaseIterable {
    /// Skip them: only a slot that is due now (at most `Schedule.onTimeWindow` late) fires.
    case none
    /// Fire the latest missed slot once.
    case latest
    /// Fire every missed slot (at most `Schedule.maximumCatchUp`).
    case all
}

/// A cron schedule from `spool.json`: at each slot, a job made from `job`, with the id
/// `NAME@SLOT` (`daily-report@20261123T053000Z`), so a slot makes one job however many
/// processors or hosts share the spool.
///
///     "schedules": {
///       "daily-report": {"cron": "0 30 5 * * ?", "timezone": "Europe/Berlin", "catchUp": "latest",
///                        "jitter": 30, "job": {"type": "report", "payload": {"period": "daily"}}}
///     }
public struct Schedule: Sendable, Equatable {
    /// A slot at most this late (seconds) still fires under `catchUp: none`.
    public static let onTimeWindow = 60.0
    /// `catchUp: all` fires at most this many missed slots.
    public static let maximumCatchUp = 1000

    public let name: String
    public let cron: CronExpression
    public let timeZone: TimeZone
    /// The zone as configured (`UTC` when none is).
    public let timeZoneName: String
    public let catchUp: CatchUpPolicy
    /// Each job's start is delayed by up to this many seconds (random), so that many schedules
    /// due at one moment do not start at once. The job is created at the slot all the same.
    public let jitter: Double
    /// The job's fields; string values may use `{schedule}`, `{slot}` (the slot's time) and
    /// `{date}` (its date on the schedule's clock).
    public let template: JSONObject
    /// `"enabled": false` switches the schedule off: its slots pass without jobs, and are not
    /// caught up when it is switched on again.
    public let enabled: Bool

    /// Reads one entry of `schedules`; errors name the key.
    init(name: String, parsing value: JSONValue, knownTypes: Set<String>) throws(ScheduleError) {
        let prefix = "schedules.\(name)"
        guard JobID.isValid(name), !name.contains("@") else {
            throw ScheduleError("\"\(prefix)\": a schedule's name must be letters, digits, '.', '_', '-'")
        }
        guard let object = value.objectValue else { throw ScheduleError("\"\(prefix)\" must be an object") }
        for key in object.keys where !["cron", "job", "catchUp", "jitter", "timezone", "enabled"].contains(key) {
            throw ScheduleError(
                "unknown key \"\(prefix).\(key)\" (known: cron, job, catchUp, jitter, timezone, enabled)")
        }
        guard let value = (object["enabled"] ?? .bool(true)).boolValue else {
            throw ScheduleError("\"\(prefix).enabled\" must be true or false")
        }
        enabled = value
        guard let text = object["cron"]?.stringValue else {
            throw ScheduleError("\"\(prefix).cron\" must be a cron expression such as \"30 5 * * *\"")
        }
        do { cron = try CronExpression(parsing: text) } catch {
            throw ScheduleError("\"\(prefix).cron\": \(error.message)")
        }
        if let zoneName = object["timezone"] {
            guard let identifier = zoneName.stringValue, let zone = TimeZone(identifier: identifier) else {
                throw ScheduleError("\"\(prefix).timezone\" must be a time zone name such as \"Europe/Berlin\"")
            }
            timeZone = zone
            timeZoneName = identifier
        } else {
            timeZone = TimeZone(identifier: "UTC")!
            timeZoneName = "UTC"
        }
        if let policy = object["catchUp"] {
            guard let name = policy.stringValue, let parsed = CatchUpPolicy(rawValue: name) else {
                throw ScheduleError("\"\(prefix).catchUp\" must be none, latest or all")
            }
            catchUp = parsed
        } else {
            catchUp = .none
        }
        if let seconds = object["jitter"] {
            guard let number = seconds.doubleValue, number >= 0 else {
                throw ScheduleError("\"\(prefix).jitter\" must be a non-negative number of seconds")
            }
            jitter = number
        } else {
            jitter = 0
        }
        guard let job = object["job"]?.objectValue else {
            throw ScheduleError("\"\(prefix).job\" must be a job template, e.g. {\"type\": \"report\"}")
        }
        let record = JobRecord(fields: job)
        if let problem = record.validationProblem() { throw ScheduleError("\"\(prefix).job\": \(problem)") }
        guard knownTypes.contains(record.handlerType) else {
            throw ScheduleError("\"\(prefix).job\": unknown type \"\(record.handlerType)\": no handler for it")
        }
        self.name = name
        template = job
    }

    /// The id of the job for a slot: `NAME@YYYYMMDDTHHMMSSZ` (UTC).
    public func jobID(forSlot slot: Double) -> String {
        let stamp = Array(Timestamp.format(slot).utf8)  // 2026-11-23T05:30:00.000Z
        var compact: [UInt8] = []
        for range in [0..<4, 5..<7, 8..<10, 10..<11, 11..<13, 14..<16, 17..<19] { compact += stamp[range] }
        compact.append(UInt8(ascii: "Z"))
        return name + "@" + String(decoding: compact, as: UTF8.self)
    }

    /// The job for a slot: the template with its placeholders filled in, and `schedule`,
    /// `scheduledFor` and (unless the template sets one) `correlation` set to the slot.
    public func job(forSlot slot: Double) -> JobRecord {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let day = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: slot))
        let date = String(format: "%04d-%02d-%02d", day.year ?? 0, day.month ?? 0, day.day ?? 0)
        let slotText = Timestamp.format(slot)
        func fill(_ value: JSONValue) -> JSONValue {
            switch value {
            case .string(let text):
                return .string(
                    text.replacingOccurrences(of: "{schedule}", with: name)
                        .replacingOccurrences(of: "{slot}", with: slotText).replacingOccurrences(
                            of: "{date}", with: date))
            case .array(let values): return .array(values.map(fill))
            case .object(let object): return .object(JSONObject(object.members.map { ($0.key, fill($0.value)) }))
            default: return value
            }
        }
        var fields = JSONObject(template.members.map { ($0.key, fill($0.value)) })
        fields["schedule"] = .string(name)
        fields["scheduledFor"] = .string(slotText)
        if fields["correlation"] == nil { fields["correlation"] = .string(slotText) }
        if jitter > 0 {
            fields["notBefore"] = .string(Timestamp.format(slot + Double.random(in: 0...jitter)))
        }
        return JobRecord(fields: fields)
    }

    public static func == (lhs: Schedule, rhs: Schedule) -> Bool {
        lhs.name == rhs.name && lhs.cron == rhs.cron && lhs.timeZone == rhs.timeZone && lhs.catchUp == rhs.catchUp
            && lhs.jitter == rhs.jitter && lhs.template == rhs.template
    }
}

/// A schedule that cannot be used, with a message naming the key.
public struct ScheduleError: Error, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
}
