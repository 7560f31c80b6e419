import SpoolKit

enum SubmitCommand: Command {
    static let name = "submit"
    static let synopsis =
        "FILE... | --type TYPE [--payload JSON]  [--priority P] [--timeout S] [--max-attempts N] [--id ID]"
    static let summary = "queue jobs durably and print their ids"
    static let options: [OptionSpec] = [
        .value("type", "TYPE", "the job's type (selects the handler)"),
        .value("payload", "JSON", "the job's payload, any JSON value (default {})"),
        .value("priority", "P", "an integer -1000..1000, or low, normal, high, critical"),
        .value("timeout", "SECONDS", "a per-job timeout (may only lower the type's)"),
        .value("max-attempts", "N", "attempts before the job fails"),
        .value("id", "ID", "use this id instead of a fresh one (fails if it exists)"),
    ]
    static let details = """
        FILE is a job file (JSON with at least "type"); '-' reads one from standard input. Each job
        gets a fresh, unique, time-ordered id unless --id is given. The job is written under tmp/,
        fsynced, renamed into queued/ without replacing anything, and queued/ is fsynced: when the
        id is printed, the job survives a crash or power cut.
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
            records.append((JobRecord(fields: fields), "the submitted job"))
        } else {
            if arguments.value("payload") != nil {
                throw .usage("spool submit: --payload goes with --type; a job file carries its own payload")
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
        for (record, source) in records {
            var record = record
            if let priority = arguments.value("priority") {
                record.set("priority", Int(priority).map { JSONValue($0) } ?? .string(priority))
            }
            if let timeout = try arguments.seconds("timeout") { record.set("timeout", JSONValue(timeout)) }
            if let attempts = try arguments.integer("max-attempts") { record.set("maxAttempts", JSONValue(attempts)) }
            if let problem = record.validationProblem() { throw .invalidJob(path: source, reason: problem) }
            if !store.knownTypes.contains(record.type) {
                throw .invalidJob(
                    path: source, reason: "unknown type \"\(record.type)\": no handler for it in spool.json")
            }
            // A file copied from done/ or failed/ re-runs as a new job: the processor's status is
            // its own to write.
            record.set("status", nil)
            let id = try store.submit(record, id: arguments.value("id"))
            Output.line(id)
        }
        return ExitCode.success
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
