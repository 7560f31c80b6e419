import SpoolSystem

/// What `spool top` shows at one moment, read from the directories: counts by state, the running
/// jobs with their progress, the held types. Cheap enough to take on every change: running
/// jobs' records are read, nothing else is.
public struct LiveSnapshot: Sendable {
    public struct RunningJob: Sendable {
        public var id: String
        public var type: String
        public var progress: Int
        /// Seconds since the attempt started.
        public var elapsed: Double
    }

    public var counts: [JobState: Int] = [:]
    public var running: [RunningJob] = []
    public var heldTypes: [String] = []

    public static func take(spool: Spool, now: Double = ProcessInfoLite.now()) -> LiveSnapshot {
        let layout = spool.layout
        let listing = JobListing(spool: spool)
        var snapshot = LiveSnapshot()
        for state in JobState.allCases { snapshot.counts[state] = listing.unsortedIDs(in: state).count }
        for id in listing.ids(in: .processing) {
            guard let record = listing.summary(id: id, state: .processing).record, record.status == "running" else {
                continue
            }
            let started = record.fields["startedAt"]?.stringValue.flatMap(Timestamp.parse) ?? now
            snapshot.running.append(
                RunningJob(id: id, type: record.type, progress: record.progress ?? 0, elapsed: max(0, now - started)))
        }
        let prefix = ControlFiles.holdTypePrefix
        snapshot.heldTypes = ((try? FileSystem.listDirectory(layout.controlDirectory)) ?? []).compactMap { entry in
            guard let name = entry.name, name.hasPrefix(prefix) else { return nil }
            return String(name.dropFirst(prefix.count))
        }.sorted()
        return snapshot
    }
}
