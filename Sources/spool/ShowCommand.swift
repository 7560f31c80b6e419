import SpoolJSON
import SpoolKit
import SpoolSystem

enum ShowCommand: Command {
    static let name = "show"
    static let synopsis = "ID [--json]"
    static let summary = "show one job: its state, record, result and the end of its log"
    static let options: [OptionSpec] = [.flag("json", "print the record as JSON, with id and state")]
    static let details = """
        For a queued or running job, an estimated completion time (eta) from the durations of the
        recent finished jobs of its type, its progress, and the queue ahead of it.
        For a parent, also its children: counts by state, record counts, a progress bar on a
        terminal, and a table of every child (PARENT/0001 ...), all read from the batch
        directories at that moment. A child is shown with its id, PARENT/NUMBER.
        """

    /// Longer field values are cut here in the text view (a parent's list of items can be huge).
    static let longestValue = 160

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        guard arguments.positionals.count == 1 else { throw .usage("spool show: name one job id") }
        let spool = try openSpool(arguments)
        let store = JobStore(spool: spool)
        let id = arguments.positionals[0]
        let location = try store.locate(id)
        let listing = JobListing(spool: spool)
        // Payloads are shown as the invoking user's role may see them (when masking is configured).
        let job = listing.summary(id: id, state: location.state).masked(
            for: spool.invokingRole, policy: spool.configuration.masking)
        let batch = job.record.flatMap { record in
            record.isParent && record.childCount != nil ? BatchView(spool: spool, id: id, record: record) : nil
        }
        if arguments.has("json") {
            Output.line(JSONWriter.string(BatchView.showValue(of: job, batch: batch), pretty: true))
            return ExitCode.success
        }
        Output.line("id:         \(id)")
        Output.line("state:      \(job.state.displayName)")
        Output.line("file:       \(spool.layout.relative(location.path))")
        if let problem = job.problem { Output.line("problem:    \(problem)") }
        if let record = job.record {
            for (key, value) in record.fields.members {
                if batch != nil && ["children", "records", "progress"].contains(key) { continue }
                var text = value.stringValue ?? JSONWriter.preview(value, maximumBytes: longestValue).text
                if text.utf8.count >= longestValue {
                    text = String(text.prefix(longestValue)) + "… (--json shows all)"
                }
                Output.line((key + ":").padding(toLength: 12) + text)
            }
        }
        batch?.print(terminal: Output.isTerminal)
        if job.state == .queued || job.state == .processing {
            if let estimate = CompletionEstimate.estimate(for: id, spool: spool) {
                Output.line("eta:        " + estimate.sentence())
            } else if let type = job.type {
                Output.line("eta:        unknown (no job of type \(type) has finished yet)")
            }
        }
        let logName = spool.layout.relative(spool.layout.logPath(id))
        do {
            let log = try listing.readLog(id)
            if !log.isEmpty {
                Output.line("log (\(logName), last lines):")
                for line in log.suffix(10) { Output.line("  " + line) }
            }
        } catch {
            Output.line("log (\(logName)): not read: \(error)")
        }
        return ExitCode.success
    }
}

/// The text view of a parent's children.
extension BatchView {
    func print(terminal: Bool) {
        let states = JobState.allCases.map { "\($0.displayName) \(progress.count($0))" }.joined(separator: "  ")
        Output.line("children:   \(progress.childCount): " + states)
        Output.line(
            "records:    \(progress.processed) of \(progress.total) processed: \(progress.succeeded) succeeded, "
                + "\(progress.failed) failed")
        if terminal {
            let width = 40
            let filled = progress.percent * width / 100
            Output.line(
                "progress:   [" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
                    + "] \(progress.percent)%")
        } else {
            Output.line("progress:   \(progress.percent)%")
        }
        guard !children.isEmpty else { return }
        let idWidth = max(6, (children.map(\.id.count).max() ?? 5) + 1)
        Output.line(
            "CHILD".padding(toLength: idWidth) + "STATE".padding(toLength: 10) + "TRY".padding(toLength: 4)
                + "RECORDS".padding(toLength: 14) + "INFO")
        for child in children {
            let counts = child.counts
            let info =
                child.record?.error ?? child.record?.fields["finishedAt"]?.stringValue
                ?? (child.record == nil ? "not a readable job" : "")
            Output.line(
                child.id.padding(toLength: idWidth) + child.state.displayName.padding(toLength: 10)
                    + String(child.record?.attempts ?? 0).padding(toLength: 4)
                    + "\(counts.processed)/\(counts.total)".padding(toLength: 14) + info)
        }
    }
}
