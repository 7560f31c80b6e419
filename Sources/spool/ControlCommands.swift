import SpoolKit
import SpoolSystem

enum CancelCommand: Command {
    static let name = "cancel"
    static let synopsis = "ID... [--reason TEXT] [--wait]"
    static let summary = "cancel queued, held or running jobs"
    static let options: [OptionSpec] = [
        .value("reason", "TEXT", "why, recorded in the job"),
        .flag("wait", "for running jobs, wait until they are in cancelled/"),
    ]
    static let details = """
        A queued or held job moves to cancelled/ at once. For a running job a request is left in
        control/; the processor running it (whoever started it) stops the handler's process group
        (SIGTERM, then SIGKILL after killGrace) and moves the job to cancelled/. A request made while
        no processor runs is applied when one starts. A finished job cannot be cancelled (exit 65).
        A job a processor is claiming is waited for up to 2 s, then reported as being claimed (75).
        A parent's cancel reaches every unfinished child; the parent moves to cancelled/ once none
        is left running.
        """

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        guard !arguments.positionals.isEmpty else { throw .usage("spool cancel: name the job ids to cancel") }
        let store = JobStore(spool: try openSpool(arguments))
        var pending: [String] = []
        for id in arguments.positionals {
            switch try store.cancel(id, by: ProcessInfoLite.userName, reason: arguments.value("reason")) {
            case .cancelled:
                Output.line("\(id): cancelled")
            case .requested(let path):
                Output.line("\(id): running; cancel requested (\(store.layout.relative(path)))")
                pending.append(id)
            case .cancellingChildren(let running):
                Output.line("\(id): waiting children cancelled; \(running.count) running child job(s) asked to stop")
                pending.append(id)
            }
        }
        if arguments.has("wait") {
            for id in pending {
                while (try? store.locate(id).state) == .processing { ProcessInfoLite.sleep(seconds: 0.1) }
                let state = (try? store.locate(id).state)?.rawValue ?? "gone"
                Output.line("\(id): \(state)")
            }
        }
        return ExitCode.success
    }
}

enum RetryCommand: Command {
    static let name = "retry"
    static let synopsis = "ID... | --all-failed [--type T]"
    static let summary = "queue failed or cancelled jobs again"
    static let options: [OptionSpec] = [
        .flag("all-failed", "retry every job in failed/"),
        .value("type", "T", "with --all-failed: only jobs of this type"),
    ]
    static let details = """
        The job goes back to queued/ with a fresh attempt budget; progress, error, times and exit
        status are reset, and the earlier outcome is appended to the record's "history". Bad input
        kept in failed/ (not a readable job) cannot be retried, nor can a done job (exit 65). A job
        a processor is claiming is waited for up to 2 s, then reported as being claimed (75).
        """

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        let spool = try openSpool(arguments)
        let store = JobStore(spool: spool)
        var ids = arguments.positionals
        if arguments.has("all-failed") {
            guard ids.isEmpty else { throw .usage("spool retry: give ids or --all-failed, not both") }
            let listing = JobListing(spool: spool)
            ids = listing.jobs(in: [.failed]).filter { job in
                job.record != nil && (arguments.value("type").map { job.type == $0 } ?? true)
            }.map(\.id)
        } else if arguments.value("type") != nil {
            throw .usage("spool retry: --type goes with --all-failed")
        }
        guard !ids.isEmpty || arguments.has("all-failed") else {
            throw .usage("spool retry: name the job ids to retry, or --all-failed")
        }
        for id in ids {
            try store.retry(id, by: ProcessInfoLite.userName)
            Output.line("\(id): queued")
        }
        if ids.isEmpty { Output.line("no failed jobs to retry") }
        return ExitCode.success
    }
}

enum HoldCommand: Command {
    static let name = "hold"
    static let synopsis = "ID... | --type T"
    static let summary = "keep queued jobs (or a whole type) from starting"
    static let options: [OptionSpec] = [.value("type", "T", "hold every job of this type, now and later")]
    static let details = """
        A held job moves to held/, where no processor claims it. A held type stays in queued/ but
        no processor starts its jobs while control/hold-type-T exists; running jobs finish.
        """

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        try changeHold(arguments, held: true, command: name)
    }
}

enum ReleaseCommand: Command {
    static let name = "release"
    static let synopsis = "ID... | --type T"
    static let summary = "let held jobs (or a held type) run again"
    static let options: [OptionSpec] = [.value("type", "T", "release a held type")]

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        try changeHold(arguments, held: false, command: name)
    }
}

private func changeHold(_ arguments: ParsedArguments, held: Bool, command: String) throws(SpoolError) -> Int32 {
    let spool = try openSpool(arguments)
    if let type = arguments.value("type") {
        guard arguments.positionals.isEmpty else { throw .usage("spool \(command): give ids or --type, not both") }
        try ControlFiles.setTypeHeld(type, held: held, layout: spool.layout)
        Output.line("type \(type): \(held ? "held" : "released")")
        return ExitCode.success
    }
    guard !arguments.positionals.isEmpty else { throw .usage("spool \(command): name job ids, or --type T") }
    let store = JobStore(spool: spool)
    for id in arguments.positionals {
        if held {
            try store.hold(id, by: ProcessInfoLite.userName)
        } else {
            try store.release(id, by: ProcessInfoLite.userName)
        }
        Output.line("\(id): \(held ? "held" : "queued")")
    }
    return ExitCode.success
}
