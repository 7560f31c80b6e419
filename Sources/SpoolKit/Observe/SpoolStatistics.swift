/// Counts of jobs by state and by type (seed 004's total / queued / running / completed /
/// failed / cancelled), read from the directories.
public struct SpoolStatistics: Sendable {
    public var byState: [JobState: Int] = [:]
    public var byType: [String: [JobState: Int]] = [:]

    public var total: Int { byState.values.reduce(0, +) }

    /// Counts every job file; types come from the records (unreadable files count as "?").
    public static func gather(spool: Spool) -> SpoolStatistics {
        let listing = JobListing(spool: spool)
        var statistics = SpoolStatistics()
        for state in JobState.allCases {
            let ids = listing.ids(in: state)
            statistics.byState[state] = ids.count
            for id in ids {
                let type = listing.summary(id: id, state: state).type ?? "?"
                statistics.byType[type, default: [:]][state, default: 0] += 1
            }
        }
        return statistics
    }

    public var jsonValue: JSONValue {
        func counts(_ table: [JobState: Int]) -> JSONValue {
            .object(JSONObject(JobState.allCases.map { ($0.displayName, JSONValue(table[$0, default: 0])) }))
        }
        var object = JSONObject([("total", JSONValue(total))])
        for state in JobState.allCases { object[state.displayName] = JSONValue(byState[state, default: 0]) }
        object["byType"] = .object(JSONObject(byType.keys.sorted().map { ($0, counts(byType[$0]!)) }))
        return .object(object)
    }
}
