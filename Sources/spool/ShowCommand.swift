import SpoolKit

enum ShowCommand: Command {
    static let name = "show"
    static let synopsis = "ID [--json]"
    static let summary = "show one job: its state, record, result and the end of its log"
    static let options: [OptionSpec] = [.flag("json", "print the record as JSON, with id and state")]

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        guard arguments.positionals.count == 1 else { throw .usage("spool show: name one job id") }
        let spool = try openSpool(arguments)
        let store = JobStore(spool: spool)
        let id = arguments.positionals[0]
        let location = try store.locate(id)
        let listing = JobListing(spool: spool)
        let job = listing.summary(id: id, state: location.state)
        if arguments.has("json") {
            Output.line(JSONWriter.string(job.jsonValue, pretty: true))
            return ExitCode.success
        }
        Output.line("id:         \(id)")
        Output.line("state:      \(job.state.displayName)")
        Output.line("file:       \(spool.layout.relative(location.path))")
        if let problem = job.problem { Output.line("problem:    \(problem)") }
        if let record = job.record {
            for (key, value) in record.fields.members {
                let text = value.stringValue ?? JSONWriter.string(value)
                Output.line((key + ":").padding(toLength: 12) + text)
            }
        }
        let log = listing.logLines(id)
        if !log.isEmpty {
            Output.line("log (\(spool.layout.relative(spool.layout.logPath(id))), last lines):")
            for line in log.suffix(10) { Output.line("  " + line) }
        }
        return ExitCode.success
    }
}
