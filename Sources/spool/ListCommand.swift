import SpoolJSON
import SpoolKit
import SpoolSystem

enum ListCommand: Command {
    static let name = "list"
    static let synopsis = "[--state S] [--type T] [--json]"
    static let summary = "list jobs with their state, type, attempts and last error"
    static let options: [OptionSpec] = [
        .value("state", "S", "only this state: queued, running, held, done, failed, cancelled (repeatable)"),
        .value("type", "T", "only jobs of this type"),
        .flag("json", "print a JSON array"),
    ]

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        let spool = try openSpool(arguments)
        var states: [JobState] = []
        for text in (arguments.values["state"] ?? []).flatMap({ $0.split(separator: ",").map(String.init) }) {
            guard let state = JobState(userInput: text) else {
                throw .usage("spool list: unknown state '\(text)' (queued, running, held, done, failed, cancelled)")
            }
            states.append(state)
        }
        if states.isEmpty { states = JobState.allCases }
        var jobs = JobListing(spool: spool).jobs(in: states)
        if let type = arguments.value("type") { jobs = jobs.filter { $0.type == type } }
        if arguments.has("json") {
            // Payloads as the invoking user's role may see them (when masking is configured).
            let role = spool.invokingRole
            let shown = jobs.map { $0.masked(for: role, policy: spool.configuration.masking).jsonValue }
            Output.line(JSONWriter.string(.array(shown), pretty: true))
            return ExitCode.success
        }
        if jobs.isEmpty {
            Output.line("no jobs")
            return ExitCode.success
        }
        // One more than the longest id, so the columns line up under the header.
        let idWidth = min(41, max(3, (jobs.map(\.id.count).max() ?? 2) + 1))
        Output.line(
            "ID".padding(toLength: idWidth) + "STATE".padding(toLength: 10) + "TYPE".padding(toLength: 12)
                + "PRI".padding(toLength: 4) + "TRY".padding(toLength: 4) + "PROG".padding(toLength: 5) + " INFO")
        for job in jobs {
            let record = job.record
            let info: String
            if let record, record.isParent, let children = record.fields["children"]?.objectValue,
                job.state == .processing
            {
                // A parent waiting for its children (counts as of its last update).
                let count = { (name: String) in children[name]?.intValue ?? 0 }
                info =
                    "batch of \(record.childCount ?? 0): \(count("done")) done, \(count("failed")) failed, "
                    + "\(count("running")) running, \(count("queued") + count("held")) waiting"
            } else if let error = job.error {
                info = error
            } else if job.state == .queued, let notBefore = record?.fields["notBefore"]?.stringValue {
                info = "next attempt at " + notBefore
            } else {
                info = record?.fields["finishedAt"]?.stringValue ?? record?.fields["createdAt"]?.stringValue ?? ""
            }
            let shownID = job.id.count > idWidth ? String(job.id.prefix(idWidth - 1)) + "…" : job.id
            var line = shownID.padding(toLength: idWidth)
            line += job.state.displayName.padding(toLength: 10)
            line += String((job.type ?? "?").prefix(11)).padding(toLength: 12)
            line += String(record?.priority ?? 0).padding(toLength: 4)
            line += String(record?.attempts ?? 0).padding(toLength: 4)
            line += (record?.progress.map { "\($0)%" } ?? "-").padding(toLength: 5)
            line += " " + info
            Output.line(line)
        }
        return ExitCode.success
    }
}
