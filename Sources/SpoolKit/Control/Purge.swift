import SpoolSystem

/// A finished job removed (or, in a dry run, that would be removed) by a purge.
public struct PurgedJob: Sendable, Equatable {
    public let id: String
    public let state: JobState
    /// Seconds since the job finished (or since its file last changed, for bad input).
    public let age: Double
}

/// How old finished jobs must be to go, per state: `spool purge`, and the `retention` setting.
public struct PurgeRule: Sendable, Equatable {
    public var states: [JobState]
    public var olderThan: Double
    public var type: String?

    public init(states: [JobState], olderThan: Double, type: String? = nil) {
        self.states = states
        self.olderThan = olderThan
        self.type = type
    }

    /// Parses an age: `90` or `90s`, `15m`, `12h`, `7d`, `2w`.
    public static func seconds(_ text: String) -> Double? {
        let units: [(Character, Double)] = [("s", 1), ("m", 60), ("h", 3600), ("d", 86400), ("w", 604_800)]
        if let last = text.last, let factor = units.first(where: { $0.0 == last })?.1 {
            return Double(text.dropLast()).flatMap { $0 >= 0 ? $0 * factor : nil }
        }
        return Double(text).flatMap { $0 >= 0 ? $0 : nil }
    }
}

extension JobStore {
    /// Removes finished jobs older than the rule says, with their results and logs. Deletions go
    /// in small batches with a pause between (`batchSize`, `pause`): on ext4 without a journal,
    /// creating files right after mass deletion is much slower, so a purge must not starve
    /// the processor. A job is locked like a claim before it is removed, so a concurrent retry
    /// either wins or finds it gone. `limit` bounds one call (the processor's retention passes).
    @discardableResult
    public func purge(
        _ rule: PurgeRule, dryRun: Bool, now: Double = ProcessInfoLite.now(), batchSize: Int = 200,
        pause: Double = 0.02, limit: Int = .max
    ) -> [PurgedJob] {
        let listing = JobListing(spool: spool)
        var purged: [PurgedJob] = []
        for state in rule.states where state.isTerminal {
            for id in listing.ids(in: state) {
                if purged.count >= limit { return purged }
                let summary = listing.summary(id: id, state: state)
                if let type = rule.type, summary.type != type { continue }
                guard let age = age(of: summary, now: now), age >= rule.olderThan else { continue }
                if !dryRun {
                    guard remove(id, from: state, withChildren: summary.record?.isParent == true) else { continue }
                    if purged.count % batchSize == batchSize - 1 { ProcessInfoLite.sleep(seconds: pause) }
                }
                purged.append(PurgedJob(id: id, state: state, age: age))
            }
        }
        return purged
    }

    private func age(of job: JobSummary, now: Double) -> Double? {
        let record = job.record
        let finished = (record?.fields["finishedAt"]?.stringValue ?? record?.fields["cancelledAt"]?.stringValue)
            .flatMap(Timestamp.parse)
        if let finished { return now - finished }
        let path = layout.jobPath(job.id, in: job.state)
        guard let status = try? FileSystem.statusNotFollowing(path) else { return nil }
        return now - Double(status.modificationTimeNanoseconds) / 1e9
    }

    /// Removes a finished job, its result and its log, holding its lock like a claim; for a
    /// parent, its finished children too, with their results and logs.
    private func remove(_ id: String, from state: JobState, withChildren: Bool) -> Bool {
        let path = layout.jobPath(id, in: state)
        guard let entry = try? FileSystem.statusNotFollowing(path) else { return false }
        if entry.kind == .regular {
            guard let fd = try? FileSystem.openForReadingSafely(path) else { return false }
            defer { fd.close() }
            guard (try? fd.lockExclusive(path: path)) == true, let opened = try? fd.status(path: path),
                let current = try? FileSystem.statusNotFollowing(path), current.isSameFile(as: opened),
                (try? FileSystem.unlink(path)) != nil
            else { return false }
        } else if entry.kind == .directory {
            return false  // bad input that was a directory: left for a person to look at
        } else {
            guard (try? FileSystem.unlink(path)) != nil else { return false }
        }
        // From the root: a results/ or logs/ swapped for a link never leads the purge outside.
        try? FileSystem.unlinkInSpool(layout.resultPath(id), root: layout.root)
        try? FileSystem.unlinkInSpool(layout.logPath(id), root: layout.root)
        if withChildren {
            for childState in JobState.allCases where childState.isTerminal {
                FileSystem.removeShallowTree(layout.batchDirectory(id, in: childState))
            }
            FileSystem.removeShallowTreeInSpool(layout.resultsDirectory + "/" + id, root: layout.root)
            FileSystem.removeShallowTreeInSpool(layout.logsDirectory + "/" + id, root: layout.root)
        }
        return true
    }
}
