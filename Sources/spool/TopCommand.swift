import SpoolKit
import SpoolSystem

enum TopCommand: Command {
    static let name = "top"
    static let synopsis = ""
    static let summary = "a live full-screen view: states, running jobs, failures"
    static let options: [OptionSpec] = []
    static let details = """
        Redraws when the event journal or processing/ changes (inotify) and once a second for
        elapsed times; q (or Ctrl-C) quits and restores the terminal. On a dumb terminal
        (TERM=dumb or unset) or when stdout is not a terminal, prints a plain snapshot after
        each change instead, until interrupted.
        """

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        let spool = try openSpool(arguments)
        let store = JobStore(spool: spool)
        let follower: EventFollower
        do {
            follower = try EventFollower(journal: store.journal)
            try follower.watch(spool.layout.directory(.processing))
        } catch {
            throw .system(error)
        }
        // What happened in the last hour, from the journal; then kept up to date from the follower.
        let now = ProcessInfoLite.now()
        var recent: [JobEvent] = []
        store.journal.forEachEvent(since: now - 3600) { if $0.isTerminal { recent.append($0) } }
        let term = Environment.value("TERM") ?? ""
        let fullScreen = Output.isTerminal && term != "dumb" && !term.isEmpty
        let keys = fullScreen ? TerminalMode() : nil
        if fullScreen { StandardStreams.writeOutput("\u{1B}[?1049h\u{1B}[?25l") }
        defer {
            keys?.restore()
            if fullScreen { StandardStreams.writeOutput("\u{1B}[?25h\u{1B}[?1049l") }
        }
        while true {
            let lines = screen(spool: spool, recent: recent)
            if fullScreen {
                // Only the view's own sequences reach the terminal: a job's text is made visible.
                StandardStreams.writeOutput(
                    "\u{1B}[H\u{1B}[2J" + lines.map(TerminalText.visible).joined(separator: "\r\n"))
            } else {
                Output.line(lines.joined(separator: "\n") + "\n")
            }
            let events = follower.next(timeout: fullScreen ? 1 : 3600, orInputOn: keys == nil ? nil : 0)
            recent += events.filter(\.isTerminal)
            let hourAgo = ProcessInfoLite.now() - 3600
            recent.removeAll { $0.time < hourAgo }
            if let keys, keys.readKeys().contains(where: { $0 == UInt8(ascii: "q") || $0 == 3 || $0 == 4 }) {
                return ExitCode.success
            }
        }
    }

    /// The view, at most 80 columns wide and as many lines as the terminal has.
    static func screen(spool: Spool, recent: [JobEvent]) -> [String] {
        let now = ProcessInfoLite.now()
        let snapshot = LiveSnapshot.take(spool: spool, now: now)
        let size = TerminalMode.size
        var lines = ["spool top  \(spool.layout.root)  \(Timestamp.format(now).dropFirst(11).prefix(8)) UTC  (q quits)"]
        lines.append(
            JobState.allCases.map { "\($0.displayName) \(snapshot.counts[$0, default: 0])" }.joined(separator: "  "))
        let lastMinute = recent.filter { $0.time >= now - 60 }
        let failedLastHour = recent.filter { $0.to == JobState.failed.rawValue }.count
        lines.append(
            "ended: \(lastMinute.count) in the last minute, \(recent.count) in the hour"
                + " (\(failedLastHour) failed)")
        if !snapshot.heldTypes.isEmpty { lines.append("held types: " + snapshot.heldTypes.joined(separator: ", ")) }
        lines.append("")
        lines.append("RUNNING")
        if snapshot.running.isEmpty { lines.append("  (none)") }
        for job in snapshot.running.sorted(by: { $0.elapsed > $1.elapsed }) {
            let filled = min(20, max(0, job.progress / 5))
            let bar = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 20 - filled) + "]"
            lines.append(
                "  " + String(job.id.prefix(29)).padding(toLength: 30)
                    + String(job.type.prefix(10)).padding(toLength: 11)
                    + bar + " " + "\(job.progress)%".padding(toLength: 5) + StatsCommand.age(job.elapsed))
        }
        lines.append("")
        lines.append("RECENT FAILURES")
        let failures = recent.filter { $0.to == JobState.failed.rawValue }.suffix(5).reversed()
        if failures.isEmpty { lines.append("  (none in the last hour)") }
        for failure in failures {
            let time = Timestamp.format(failure.time).dropFirst(11).prefix(8)
            let reason = failure.exit.map { "exit \($0)" } ?? "rejected or stopped"
            lines.append(
                "  \(time) " + String(failure.id.prefix(29)).padding(toLength: 30)
                    + " \(failure.type.prefix(10)) \(reason)")
        }
        return Array(lines.prefix(max(1, size.lines - 1)).map { String($0.prefix(size.columns)) })
    }
}
