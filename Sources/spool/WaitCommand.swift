import SpoolKit
import SpoolSystem

enum WaitCommand: Command {
    static let name = "wait"
    static let synopsis = "ID... [--timeout S]"
    static let summary = "wait until jobs finish; exit 0 if all are done"
    static let options: [OptionSpec] = [
        .value("timeout", "S", "give up after S seconds (exit 75)")
    ]
    static let details = """
        Exit status: 0 when every job is done; 1 when any failed or was cancelled (each is named
        on stderr); 75 when --timeout passed first; 66 for an unknown id. A parent is waited for
        until its whole batch has finished. Sleeps on inotify between changes: no polling. On a
        terminal, a progress bar is drawn on stderr.
        """

    /// Any waited-for job failed or was cancelled.
    static let unsuccessful: Int32 = 1

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        guard !arguments.positionals.isEmpty else { throw .usage("spool wait: name one or more job ids") }
        let spool = try openSpool(arguments)
        return try waitFor(arguments.positionals, store: JobStore(spool: spool), timeout: arguments.seconds("timeout"))
    }

    /// Waits for `ids` and reports; returns the exit status described in `details`.
    static func waitFor(_ ids: [String], store: JobStore, timeout: Double?) throws(SpoolError) -> Int32 {
        let waiter = try JobWaiter(store: store, ids: ids)
        let bar = StandardStreams.isTerminal(2)
        let completed = waiter.wait(timeout: timeout) { finished, total in
            if bar { StandardStreams.writeError("\r" + progressBar(finished, total)) }
        }
        if bar { StandardStreams.writeError("\r" + String(repeating: " ", count: 79) + "\r") }
        guard completed else {
            let pending = ids.filter { waiter.finished[$0] == nil && !waiter.vanished.contains($0) }
            Output.error("spool wait: timed out; still unfinished: \(pending.joined(separator: " "))")
            return ExitCode.temporaryFailure
        }
        var status = ExitCode.success
        for id in ids {
            if let state = waiter.finished[id], state != .done {
                Output.error("spool wait: job \(id) \(state.rawValue)")
                status = unsuccessful
            } else if waiter.vanished.contains(id) {
                Output.error("spool wait: job \(id) disappeared (purged?) before it could be seen finished")
                status = unsuccessful
            }
        }
        return status
    }

    /// `[#####.....] 3/10 finished`, within 80 columns.
    static func progressBar(_ finished: Int, _ total: Int) -> String {
        let width = 40
        let filled = total == 0 ? width : finished * width / total
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + "\(finished)/\(total) finished"
    }
}
