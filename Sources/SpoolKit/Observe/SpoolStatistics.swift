import SpoolJSON
import SpoolSystem

/// A spool's figures (seed 004's total / queued / running / completed / failed / cancelled, and
/// more). Counts come from the directories, the only truth about where jobs are; what happened
/// over time (throughput, durations, failure rates, resources) comes from the event journal.
/// Finished jobs' files are never read when the journal knows their type.
public struct SpoolStatistics: Sendable {
    /// Figures of one type over the journal's days, for attempts that ended their job.
    public struct TypeFigures: Sendable, Equatable {
        public var done = 0
        public var failed = 0
        public var cancelled = 0
        /// failed / (done + failed); nil before any job of the type ended.
        public var failureRate: Double?
        /// Handler run time percentiles (nearest rank), seconds.
        public var p50: Double?
        public var p95: Double?
        public var p99: Double?
        /// Sum of handlers' user + system CPU time, seconds.
        public var cpuSeconds = 0.0
        /// The highest peak resident memory of a handler, bytes.
        public var maximumRSS = 0
    }

    /// How many queued jobs have waited how long: `label` covers ages below `upperBound`
    /// seconds (nil: no bound), as Postfix's qshape.
    public struct AgeBucket: Sendable, Equatable {
        public var label: String
        public var upperBound: Double?
        public var count: Int
    }

    public var byState: [JobState: Int] = [:]
    public var byType: [String: [JobState: Int]] = [:]
    /// By the jobs' `project` field (jobs without one are left out).
    public var byProject: [String: [JobState: Int]] = [:]
    /// Jobs that ended in the last 1, 5 and 60 minutes.
    public var endedWithin: [Int: Int] = [:]
    public var types: [String: TypeFigures] = [:]
    public var queueAge: [AgeBucket] = []
    /// The queued job that has waited longest, and for how many seconds.
    public var oldestQueued: (id: String, age: Double)?
    /// Jobs running now.
    public var workersBusy = 0
    /// Share of worker time spent in handlers over the last 5 minutes (attempts that ended in it),
    /// for `workers` workers per processor seen in that time; nil when none was.
    public var utilisation: Double?
    /// Finished jobs whose file had to be read because the journal no longer has their end.
    public var filesRead = 0

    public var total: Int { byState.values.reduce(0, +) }

    /// Jobs ended per minute over the last `minutes`.
    public func throughput(minutes: Int) -> Double { Double(endedWithin[minutes, default: 0]) / Double(minutes) }

    static let ageBounds: [(String, Double?)] = [
        ("<1m", 60), ("1-5m", 300), ("5-10m", 600), ("10-20m", 1200), ("20-40m", 2400), ("40-80m", 4800),
        ("80-160m", 9600), ("160m+", nil),
    ]

    public static func gather(spool: Spool, now: Double = ProcessInfoLite.now()) -> SpoolStatistics {
        let listing = JobListing(spool: spool)
        let store = JobStore(spool: spool)
        let journal = JournalSummary(journal: store.journal, now: now)
        var statistics = SpoolStatistics()
        statistics.queueAge = ageBounds.map { AgeBucket(label: $0.0, upperBound: $0.1, count: 0) }
        func count(_ type: String, _ project: String?, _ state: JobState) {
            statistics.byType[type, default: [:]][state, default: 0] += 1
            if let project { statistics.byProject[project, default: [:]][state, default: 0] += 1 }
        }
        for state in JobState.allCases {
            let ids = listing.unsortedIDs(in: state)
            statistics.byState[state] = ids.count
            for id in ids {
                if state.isTerminal, let ending = journal.endings[id], ending.state == state {
                    count(ending.type, ending.project, state)
                    continue
                }
                if state.isTerminal { statistics.filesRead += 1 }
                let record = listing.summary(id: id, state: state).record
                count(record?.type ?? "?", record?.fields["project"]?.stringValue, state)
                if state == .queued, let age = listing.queuedAge(of: id, now: now) {
                    if let index = statistics.queueAge.firstIndex(where: { $0.upperBound.map { age < $0 } ?? true }) {
                        statistics.queueAge[index].count += 1
                    }
                    if age > statistics.oldestQueued?.age ?? -1 { statistics.oldestQueued = (id, age) }
                }
            }
        }
        statistics.workersBusy = statistics.byState[.processing, default: 0]
        statistics.endedWithin = journal.endedWithin
        for (type, figures) in journal.figures {
            var entry = TypeFigures(
                done: figures.done, failed: figures.failed, cancelled: figures.cancelled,
                cpuSeconds: figures.cpuSeconds, maximumRSS: figures.maximumRSS)
            if figures.done + figures.failed > 0 {
                entry.failureRate = Double(figures.failed) / Double(figures.done + figures.failed)
            }
            let sorted = figures.durations.sorted()
            entry.p50 = percentile(sorted, 0.50)
            entry.p95 = percentile(sorted, 0.95)
            entry.p99 = percentile(sorted, 0.99)
            statistics.types[type] = entry
        }
        if !journal.activeProcessors.isEmpty {
            let capacity = Double(journal.activeProcessors.count * spool.configuration.workers)
            statistics.utilisation = min(1, journal.busySeconds / (JournalSummary.utilisationWindow * capacity))
        }
        return statistics
    }

    /// The nearest-rank percentile of sorted values.
    public static func percentile(_ sorted: [Double], _ fraction: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((fraction * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count, max(1, rank)) - 1]
    }

    public var jsonValue: JSONValue {
        func counts(_ table: [JobState: Int]) -> JSONValue {
            .object(JSONObject(JobState.allCases.map { ($0.displayName, JSONValue(table[$0, default: 0])) }))
        }
        func number(_ value: Double?) -> JSONValue { value.map { JSONValue(($0 * 1000).rounded() / 1000) } ?? .null }
        var object = JSONObject([("total", JSONValue(total))])
        for state in JobState.allCases { object[state.displayName] = JSONValue(byState[state, default: 0]) }
        object["byType"] = .object(JSONObject(byType.keys.sorted().map { ($0, counts(byType[$0]!)) }))
        object["byProject"] = .object(JSONObject(byProject.keys.sorted().map { ($0, counts(byProject[$0]!)) }))
        object["throughput"] = .object(
            JSONObject(
                [1, 5, 60].map { minutes in
                    (
                        "\(minutes)m",
                        .object(
                            JSONObject([
                                ("ended", JSONValue(endedWithin[minutes, default: 0])),
                                ("perMinute", number(throughput(minutes: minutes))),
                            ]))
                    )
                }))
        object["types"] = .object(
            JSONObject(
                types.keys.sorted().map { type in
                    let figures = types[type]!
                    return (
                        type,
                        .object(
                            JSONObject([
                                ("done", JSONValue(figures.done)), ("failed", JSONValue(figures.failed)),
                                ("cancelled", JSONValue(figures.cancelled)),
                                ("failureRate", number(figures.failureRate)),
                                (
                                    "durationSeconds",
                                    .object(
                                        JSONObject([
                                            ("p50", number(figures.p50)), ("p95", number(figures.p95)),
                                            ("p99", number(figures.p99)),
                                        ]))
                                ),
                                ("cpuSeconds", number(figures.cpuSeconds)), ("maxRSS", JSONValue(figures.maximumRSS)),
                            ]))
                    )
                }))
        object["queueAge"] = .array(
            queueAge.map { .object(JSONObject([("age", .string($0.label)), ("count", JSONValue($0.count))])) })
        object["oldestQueued"] =
            oldestQueued.map {
                .object(JSONObject([("id", .string($0.id)), ("ageSeconds", number($0.age))]))
            } ?? .null
        object["workers"] = .object(
            JSONObject([("busy", JSONValue(workersBusy)), ("utilisation", number(utilisation))]))
        return .object(object)
    }
}
