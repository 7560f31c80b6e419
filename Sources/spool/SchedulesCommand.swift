import SpoolJSON
import SpoolKit
import SpoolSystem

enum SchedulesCommand: Command {
    static let name = "schedules"
    static let synopsis = "[--next N] [--json]"
    static let summary = "list the spool's schedules with their next run times"
    static let options: [OptionSpec] = [
        .value("next", "N", "how many next run times to show (default 3)"),
        .flag("json", "print a JSON array"),
    ]
    static let details = """
        Schedules are configured in spool.json ("schedules"); every running processor fires them.
        Each slot makes one job, NAME@YYYYMMDDTHHMMSSZ, however many processors run.
        """

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        let spool = try openSpool(arguments)
        let runner = ScheduleRunner(store: JobStore(spool: spool))
        let count = try arguments.integer("next") ?? 3
        let now = ProcessInfoLite.now()
        var rows: [JSONValue] = []
        for schedule in runner.schedules {
            var times: [String] = []
            var time = now
            while schedule.enabled, times.count < count,
                let next = schedule.cron.nextTime(after: time, in: schedule.timeZone)
            {
                times.append(Timestamp.format(next))
                time = next
            }
            let last = runner.lastConsidered(schedule).map(Timestamp.format)
            if arguments.has("json") {
                var object = JSONObject([
                    ("name", .string(schedule.name)), ("cron", .string(schedule.cron.description)),
                    ("timezone", .string(schedule.timeZoneName)), ("catchUp", .string(schedule.catchUp.rawValue)),
                    ("type", .string(schedule.template["type"]?.stringValue ?? "")),
                    ("enabled", .bool(schedule.enabled)),
                    ("next", .array(times.map(JSONValue.string))),
                ])
                if let last { object["consideredUpTo"] = .string(last) }
                rows.append(.object(object))
            } else {
                Output.line(
                    "\(schedule.name): \(schedule.cron) (\(schedule.timeZoneName), catchUp \(schedule.catchUp.rawValue)) → type "
                        + (schedule.template["type"]?.stringValue ?? "?") + (schedule.enabled ? "" : " (disabled)"))
                Output.line("  slots considered up to: \(last ?? "never (a processor starts it)")")
                for time in times { Output.line("  next: \(time)") }
            }
        }
        if arguments.has("json") {
            Output.line(JSONWriter.string(.array(rows), pretty: true))
        } else if runner.schedules.isEmpty {
            Output.line("no schedules in spool.json")
        }
        return ExitCode.success
    }
}
