import SpoolJSON
import SpoolKit
import SpoolSystem

enum EventsCommand: Command {
    static let name = "events"
    static let synopsis = "[--since T] [--type T] [--follow] [--json]"
    static let summary = "print the event journal; --follow for new events"
    static let options: [OptionSpec] = [
        .value("since", "T", "from this time on: a timestamp, or an age such as 90s, 15m, 12h, 7d"),
        .value("type", "T", "only jobs of this type (repeatable)"),
        .flag("follow", "after the journal, keep printing new events until interrupted"),
        .flag("json", "print the journal's NDJSON lines"),
    ]
    static let details = """
        The journal lives in events/YYYY-MM-DD.ndjson (UTC days), one line per change of state;
        see docs/OBSERVING.md. "eventRetention" in spool.json says how long days are kept.
        """

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        let spool = try openSpool(arguments)
        let store = JobStore(spool: spool)
        let since = try sinceTime(arguments.value("since"))
        let types = Set(arguments.values["type"] ?? [])
        let json = arguments.has("json")
        func emit(_ event: JobEvent) {
            if !types.isEmpty && !types.contains(event.type) { return }
            Output.line(json ? JSONWriter.string(event.jsonValue) : humanLine(event))
        }
        // Start following before reading the past, so nothing falls between the two.
        let follower: EventFollower?
        do { follower = arguments.has("follow") ? try EventFollower(journal: store.journal) : nil } catch {
            throw .system(error)
        }
        store.journal.forEachEvent(since: since, emit)
        guard let follower else { return ExitCode.success }
        while true { follower.next(timeout: nil).forEach(emit) }
    }

    /// `--since`: a timestamp, or an age before now.
    static func sinceTime(_ text: String?) throws(SpoolError) -> Double? {
        guard let text else { return nil }
        if let time = Timestamp.parse(text) { return time }
        if let age = PurgeRule.seconds(text) { return ProcessInfoLite.now() - age }
        throw .usage("--since takes a timestamp (2026-11-23T10:00:00Z) or an age such as 15m or 2d, not '\(text)'")
    }

    /// `HH:MM:SS ID TYPE FROM>TO DURATION exit N` (the attempt is in `--json`), cut to 80 columns.
    static func humanLine(_ event: JobEvent) -> String {
        let time = String(Timestamp.format(event.time).dropFirst(11).prefix(8))
        var text = time + " " + event.id + " " + String(event.type.prefix(8)).padding(toLength: 8) + " "
        text += (event.from ?? "new") + ">" + event.to
        if let duration = event.duration { text += " " + String(duration) + "s" }
        if let exit = event.exit { text += " exit \(exit)" }
        return String(text.prefix(80))
    }
}
