import SpoolJSON
import SpoolKit
import SpoolSystem

enum SubmitCommand: Command {
    static let name = "submit"
    static let synopsis =
        "FILE... | --type TYPE [--payload JSON] [--items-from FILE [--batch-size N] ...]  [--priority P] "
        + "[--timeout S] [--max-attempts N] [--id ID] [--at TIME | --delay DURATION]"
    static let summary = "queue jobs durably and print their ids"
    static let options: [OptionSpec] = [
        .value("type", "TYPE", "the job's type (selects the handler)"),
        .value("payload", "JSON", "the job's payload, any JSON value (default {})"),
        .value("priority", "P", "an integer -1000..1000, or low, normal (medium), high, critical"),
        .value("at", "TIME", "do not start it before TIME (ISO 8601: 2026-12-24T18:00:00Z, or with +HH:MM)"),
        .value("delay", "DURATION", "do not start it before DURATION from now: 90s, 15m, 12h, 7d, 2w"),
        .value("timeout", "SECONDS", "a per-job timeout (may only lower the type's)"),
        .value("max-attempts", "N", "attempts before the job fails"),
        .value("id", "ID", "use this id instead of a fresh one (exit 73 if a job has it)"),
        .value("items-from", "FILE", "make a parent job: split the items in FILE (a JSON array, or one per line)"),
        .value("batch-size", "N", "with --items-from: items per child job (default 400)"),
        .value("items-field", "NAME", "with --items-from: the payload field that holds the items (default items)"),
        .value("child-type", "TYPE", "with --items-from: the children's type (default: the parent's)"),
        .value("on-child-failure", "POLICY", "with --items-from: complete (default), fail or failFast"),
        .flag("wait", "wait until the jobs finish; print their result paths instead of their ids"),
        .flag("print", "with --wait: print the results themselves"),
        .value("wait-timeout", "S", "with --wait: give up after S seconds (exit 75)"),
    ]
    static let details = """
        FILE is a job file (JSON with at least "type"); '-' reads one from standard input. Each job
        gets a fresh, unique, time-ordered id unless --id is given. The job is written under tmp/,
        fsynced, renamed into queued/ without replacing anything, and queued/ is fsynced: when the
        id is printed, the job survives a crash or power cut.

        With --id, the job is queued only if no job with that id exists in any state (finished
        jobs included, until purged); otherwise the command exits 73. Of several submissions of
        one id at once, exactly one succeeds.

        With --items-from, the job is a parent: the processor splits the items into child jobs of
        --batch-size items each (queued/ID/0001.json, ...) and the parent's outcome is derived
        from its children (see docs/BATCHES.md).

        With --wait, the ids go to stderr and the command waits as 'spool wait' does (same exit
        status), then prints each done job's result path (or, with --print, its result).
        """

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        let spool = try openSpool(arguments)
        let store = JobStore(spool: spool)
        if let id = arguments.value("id") { try JobID.validate(id) }
        var records: [(JobRecord, String)] = []
        if let type = arguments.value("type") {
            guard arguments.positionals.isEmpty else {
                throw .usage("spool submit: give either --type (and --payload) or job files, not both")
            }
            var fields = JSONObject([("type", .string(type))])
            if let payload = arguments.value("payload") {
                do { fields["payload"] = try JSONParser.parse(Array(payload.utf8)) } catch {
                    throw .usage("spool submit: --payload is not valid JSON: \(error)")
                }
            } else {
                fields["payload"] = .object(JSONObject())
            }
            if let itemsFile = arguments.value("items-from") {
                try makeParent(&fields, itemsFile: itemsFile, arguments)
            }
            records.append((JobRecord(fields: fields), "the submitted job"))
        } else {
            if arguments.value("payload") != nil || arguments.value("items-from") != nil {
                throw .usage("spool submit: --payload and --items-from go with --type; a job file carries its own")
            }
            guard !arguments.positionals.isEmpty else {
                throw .usage("spool submit: name job files, or give --type TYPE (see 'spool submit --help')")
            }
            for file in arguments.positionals {
                let bytes = file == "-" ? StandardInput.readAll() : try FileSystemAccess.read(file)
                records.append((try JobRecord(parsing: bytes, path: file), file))
            }
        }
        if arguments.value("id") != nil && records.count > 1 {
            throw .usage("spool submit: --id names one job; it cannot be used with several files")
        }
        let waits = arguments.has("wait")
        if arguments.has("print") && !waits { throw .usage("spool submit: --print goes with --wait") }
        let notBefore = try Self.notBefore(arguments)
        var submitted: [String] = []
        for (record, source) in records {
            var record = record
            if let priority = arguments.value("priority") {
                record.set("priority", Int(priority).map { JSONValue($0) } ?? .string(priority))
            }
            if let notBefore { record.set("notBefore", .string(Timestamp.format(notBefore))) }
            if let timeout = try arguments.seconds("timeout") { record.set("timeout", JSONValue(timeout)) }
            if let attempts = try arguments.integer("max-attempts") { record.set("maxAttempts", JSONValue(attempts)) }
            if let problem = record.validationProblem() { throw .invalidJob(path: source, reason: problem) }
            if !store.accepts(record) {
                throw .invalidJob(
                    path: source, reason: "unknown type \"\(record.handlerType)\": no handler for it in spool.json")
            }
            try store.checkDependenciesExist(record, source: source)
            // A file copied from done/ or failed/ re-runs as a new job: the processor's status is
            // its own to write.
            record.set("status", nil)
            let id = try store.submit(record, id: arguments.value("id"))
            if waits { Output.error("spool: submitted \(id)") } else { Output.line(id) }
            submitted.append(id)
        }
        guard waits else { return ExitCode.success }
        let status = try WaitCommand.waitFor(submitted, store: store, timeout: arguments.seconds("wait-timeout"))
        for id in submitted {
            guard let state = try? store.locate(id).state, state == .done,
                let record = JobListing(spool: spool).summary(id: id, state: state).record,
                let result = record.fields["result"]?.stringValue
            else { continue }
            let resultPath = spool.layout.root + "/" + result
            if arguments.has("print") {
                var output = JobBytesOutput()
                try? store.copyResult(resultPath) { output.write($0) }
                output.finish()
            } else {
                Output.line(resultPath)
            }
        }
        return status
    }
}

extension SubmitCommand {
    /// The time `--at` or `--delay` asks the job not to start before (seconds since the epoch).
    static func notBefore(_ arguments: ParsedArguments) throws(SpoolError) -> Double? {
        switch (arguments.value("at"), arguments.value("delay")) {
        case (nil, nil): return nil
        case (_?, _?): throw .usage("spool submit: give --at or --delay, not both")
        case (let time?, nil):
            guard let seconds = Timestamp.parse(time) else {
                throw .usage(
                    "spool submit: --at takes an ISO 8601 time such as 2026-12-24T18:00:00Z or "
                        + "2026-12-24T18:00:00+01:00, not '\(time)'")
            }
            return seconds
        case (nil, let delay?):
            // A unit is required: "5" could mean seconds or minutes.
            guard delay.last?.isLetter == true, let seconds = PurgeRule.seconds(delay) else {
                throw .usage("spool submit: --delay takes a duration such as 90s, 15m, 12h, 7d or 2w, not '\(delay)'")
            }
            return ProcessInfoLite.now() + seconds
        }
    }

    /// Turns `fields` into a parent: the items of FILE in its payload, and a `batch` section.
    static func makeParent(_ fields: inout JSONObject, itemsFile: String, _ arguments: ParsedArguments)
        throws(SpoolError)
    {
        let bytes = itemsFile == "-" ? StandardInput.readAll() : try FileSystemAccess.read(itemsFile)
        let items = try BatchItems.parse(bytes, from: itemsFile)
        let field = arguments.value("items-field") ?? "items"
        var payload = fields["payload"]?.objectValue ?? JSONObject()
        guard fields["payload"] == nil || fields["payload"]?.objectValue != nil else {
            throw .usage("spool submit: with --items-from, --payload must be a JSON object")
        }
        payload[field] = .array(items)
        fields["payload"] = .object(payload)
        var batch = JSONObject([("items", .string(field))])
        if let size = try arguments.integer("batch-size") { batch["size"] = JSONValue(size) }
        if let type = arguments.value("child-type") { batch["childType"] = .string(type) }
        if let policy = arguments.value("on-child-failure") { batch["onChildFailure"] = .string(policy) }
        fields["batch"] = .object(batch)
    }
}

/// Reading input files given on the command line.
enum FileSystemAccess {
    static func read(_ path: String) throws(SpoolError) -> [UInt8] {
        try readFileForCommand(path)
    }
}

enum StandardInput {
    static func readAll() -> [UInt8] { readStandardInput() }
}
