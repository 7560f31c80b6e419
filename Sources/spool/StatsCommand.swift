import SpoolJSON
import SpoolKit
import SpoolSystem

enum StatsCommand: Command {
    static let name = "stats"
    static let synopsis = "[--json]"
    static let summary = "counts by state, type, project; throughput, durations, queue age"
    static let options: [OptionSpec] = [.flag("json", "print JSON")]
    static let details = """
        Counts come from the state directories; throughput, durations, failure rates and handler
        resources from the event journal (its eventRetention days). See docs/OBSERVING.md.
        """

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        let spool = try openSpool(arguments)
        let statistics = SpoolStatistics.gather(spool: spool)
        if arguments.has("json") {
            Output.line(JSONWriter.string(statistics.jsonValue, pretty: true))
            return ExitCode.success
        }
        for line in humanLines(statistics) { Output.line(line) }
        return ExitCode.success
    }

    /// The report for a terminal: every line within 80 columns.
    static func humanLines(_ statistics: SpoolStatistics) -> [String] {
        let states = JobState.allCases
        var lines = ["total \(statistics.total)"]
        // Unfinished states on one line, finished on the next: both fit 80 columns.
        for group in [states.filter { !$0.isTerminal }, states.filter(\.isTerminal)] {
            lines.append(
                group.map { "\($0.displayName) \(statistics.byState[$0, default: 0])" }.joined(separator: "  "))
        }
        lines.append(
            "ended per minute: "
                + [1, 5, 60].map { "\(fixed(statistics.throughput(minutes: $0), 1)) (\($0)m)" }.joined(separator: "  "))
        var workers = "workers busy: \(statistics.workersBusy)"
        if let utilisation = statistics.utilisation { workers += ", utilisation \(Int(utilisation * 100))% (5m)" }
        lines.append(workers)
        if let oldest = statistics.oldestQueued {
            lines.append("oldest queued: \(oldest.id) (\(age(oldest.age)))")
        }
        func countTable(_ title: String, _ table: [String: [JobState: Int]]) {
            guard !table.isEmpty else { return }
            lines.append("")
            lines.append(trim(title.padding(toLength: 14) + states.map { column(columnName($0), 8) }.joined()))
            for key in table.keys.sorted() {
                let counts = table[key]!
                lines.append(
                    trim(
                        String(key.prefix(13)).padding(toLength: 14)
                            + states.map { column(String(counts[$0, default: 0]), 8) }.joined()))
            }
        }
        countTable("TYPE", statistics.byType)
        countTable("PROJECT", statistics.byProject)
        if !statistics.types.isEmpty {
            lines.append("")
            lines.append(
                trim(
                    "TYPE".padding(toLength: 14) + column("ENDED", 7) + column("FAIL%", 7) + column("P50 S", 9)
                        + column("P95 S", 9) + column("P99 S", 9) + column("CPU S", 10) + column("PEAK RSS", 10)))
            for type in statistics.types.keys.sorted() {
                let figures = statistics.types[type]!
                let ended = figures.done + figures.failed + figures.cancelled
                let rate = figures.failureRate.map { fixed($0 * 100, 1) } ?? "-"
                lines.append(
                    trim(
                        String(type.prefix(13)).padding(toLength: 14) + column(String(ended), 7) + column(rate, 7)
                            + column(figures.p50.map { fixed($0, 3) } ?? "-", 9)
                            + column(figures.p95.map { fixed($0, 3) } ?? "-", 9)
                            + column(figures.p99.map { fixed($0, 3) } ?? "-", 9)
                            + column(fixed(figures.cpuSeconds, 2), 10) + column(bytes(figures.maximumRSS), 10)))
            }
        }
        lines.append("")
        lines.append(trim("QUEUE AGE".padding(toLength: 14) + statistics.queueAge.map { column($0.label, 8) }.joined()))
        lines.append(
            trim("queued".padding(toLength: 14) + statistics.queueAge.map { column(String($0.count), 8) }.joined()))
        return lines
    }

    /// A state's name in a table's 8-character column.
    static func columnName(_ state: JobState) -> String {
        switch state {
        case .forwarded: return "sent"
        case .cancelled: return "cancel"
        default: return state.displayName
        }
    }

    static func column(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(1, width - text.count)) + text
    }

    static func trim(_ text: String) -> String { String(text.reversed().drop { $0 == " " }.reversed()) }

    static func fixed(_ value: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int((value * scale).rounded())
        let whole = String(scaled / Int(scale))
        guard decimals > 0 else { return whole }
        let fraction = String(abs(scaled) % Int(scale))
        return whole + "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }

    static func age(_ seconds: Double) -> String {
        let whole = Int(seconds)
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return "\(whole / 60)m \(whole % 60)s" }
        if whole < 86_400 { return "\(whole / 3600)h \(whole % 3600 / 60)m" }
        return "\(whole / 86_400)d \(whole % 86_400 / 3600)h"
    }

    static func bytes(_ count: Int) -> String {
        if count >= 1 << 30 { return fixed(Double(count) / Double(1 << 30), 1) + "G" }
        if count >= 1 << 20 { return fixed(Double(count) / Double(1 << 20), 1) + "M" }
        if count >= 1 << 10 { return fixed(Double(count) / Double(1 << 10), 1) + "K" }
        return String(count)
    }
}
