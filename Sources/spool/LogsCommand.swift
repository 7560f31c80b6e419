import SpoolKit
import SpoolSystem

enum LogsCommand: Command {
    static let name = "logs"
    static let synopsis = "ID [--follow]"
    static let summary = "print a job's log; --follow until the job finishes"
    static let options: [OptionSpec] = [
        .flag("follow", "keep printing new lines until the job is done, failed or cancelled")
    ]

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        guard arguments.positionals.count == 1 else { throw .usage("spool logs: name one job id") }
        let spool = try openSpool(arguments)
        let store = JobStore(spool: spool)
        let id = arguments.positionals[0]
        _ = try store.locate(id)
        let path = spool.layout.logPath(id)
        var offset = 0
        var output = JobBytesOutput()
        defer { output.finish() }
        // From the spool's root: a link or a FIFO in the log's place (or logs/ made a link) is
        // an error naming it, not followed, never waited on.
        func printNew() throws(SystemError) -> Bool {
            let bytes = try FileSystem.readFileInSpool(path, root: spool.layout.root, from: offset)
            guard !bytes.isEmpty else { return false }
            offset += bytes.count
            output.write(bytes)
            return true
        }
        do { _ = try printNew() } catch { throw .system(error) }
        guard arguments.has("follow") else { return ExitCode.success }
        while true {
            let finished = (try? store.locate(id).state)?.isTerminal ?? true
            if !((try? printNew()) ?? false) && finished { break }
            if !finished { ProcessInfoLite.sleep(seconds: 0.2) }
        }
        return ExitCode.success
    }
}

enum PurgeCommand: Command {
    static let name = "purge"
    static let synopsis = "--state S --older-than AGE [--type T] [--dry-run]"
    static let summary = "remove finished jobs with their results and logs"
    static let options: [OptionSpec] = [
        .value("state", "S", "done, failed or cancelled (repeatable)"),
        .value("older-than", "AGE", "finished at least this long ago: 90s, 15m, 12h, 7d, 2w"),
        .value("type", "T", "only jobs of this type"),
        .flag("dry-run", "list what would be removed, remove nothing"),
    ]
    static let details = """
        Age is counted from the job's finishedAt (or cancelledAt; for bad input, the file's last
        change). Removal goes in small paced batches so that running processors are not starved.
        "retention" in spool.json does the same automatically.
        """

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        let spool = try openSpool(arguments)
        var states: [JobState] = []
        for text in (arguments.values["state"] ?? []).flatMap({ $0.split(separator: ",").map(String.init) }) {
            guard let state = JobState(userInput: text), state.isTerminal else {
                throw .usage("spool purge: --state takes done, failed or cancelled, not '\(text)'")
            }
            states.append(state)
        }
        guard !states.isEmpty else { throw .usage("spool purge: name the states to purge with --state") }
        guard let ageText = arguments.value("older-than") else {
            throw .usage("spool purge: give --older-than AGE (for example 7d)")
        }
        guard let age = PurgeRule.seconds(ageText) else {
            throw .usage("spool purge: --older-than takes an age such as 90s, 15m, 12h, 7d or 2w, not '\(ageText)'")
        }
        let dryRun = arguments.has("dry-run")
        let purged = JobStore(spool: spool).purge(
            PurgeRule(states: states, olderThan: age, type: arguments.value("type")), dryRun: dryRun)
        for job in purged {
            Output.line("\(dryRun ? "would remove" : "removed") \(job.state.rawValue)/\(job.id)")
        }
        Output.line("\(purged.count) job(s) \(dryRun ? "would be removed" : "removed")")
        return ExitCode.success
    }
}
