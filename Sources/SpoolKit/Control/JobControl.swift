import SpoolJSON
import SpoolSystem

/// What `cancel` did.
public enum CancelOutcome: Sendable, Equatable {
    /// The job was waiting (queued or held) and is now in `cancelled/`.
    case cancelled
    /// A parent waiting for its children: its queued and held children are cancelled, these
    /// running ones are asked to stop, and it moves to `cancelled/` once they have.
    case cancellingChildren(running: [String])
    /// The job is running: a request was left in `control/` for the processor running it, which
    /// stops the handler's process group and moves the job to `cancelled/`.
    case requested(path: String)
}

/// User requests on single jobs: cancel, retry, hold, release. Each takes the job with the same
/// protocol as a claim (flock on the open file, rename into `processing/` without replacing), so
/// it is safe beside any number of running processors, and then moves it on.
extension JobStore {
    /// A job taken out of a waiting or finished state into `processing/` by this process.
    struct TakenJob {
        let id: String
        let record: JobRecord
        let lock: FileDescriptor
        let from: JobState
    }

    /// Takes `STATE/ID.json` into `processing/`; nil when it is not there (any more) or another
    /// process holds it. A file that is not a readable job is put back where it was.
    func take(_ id: String, from state: JobState) throws(SpoolError) -> TakenJob? {
        let path = layout.jobPath(id, in: state)
        guard let entry = try? FileSystem.statusNotFollowing(path) else { return nil }
        guard entry.kind == .regular else {
            throw .invalidJob(path: layout.relative(path), reason: "it is \(entry.kindDescription), not a job file")
        }
        let fd: FileDescriptor
        do { fd = try FileSystem.openForReadingSafely(path) } catch { return nil }
        guard (try? fd.lockExclusive(path: path)) == true, let opened = try? fd.status(path: path),
            let current = try? FileSystem.statusNotFollowing(path), current.isSameFile(as: opened)
        else {
            fd.close()
            return nil
        }
        let bytes: [UInt8]
        let record: JobRecord
        do {
            bytes = try fd.readAll(limit: max(spool.configuration.maximumJobBytes, 64 * 1024 * 1024), path: path)
            record = try JobRecord(parsing: bytes, path: layout.relative(path))
        } catch {
            fd.close()
            throw error
        }
        do {
            try renameIntoState(path, to: layout.jobPath(id, in: .processing), id: id)
        } catch {
            fd.close()
            if error.isNotFound { return nil }
            if error.isAlreadyExists {
                throw .duplicateJobID(id: id, state: JobState.processing.rawValue)
            }
            throw .system(error)
        }
        // The settle's commits follow; an unreported step's failed flush is not fatal.
        try? commits.published(
            in: [FileSystem.directoryName(of: path), layout.directory(.processing)], acknowledged: false)
        // The taker's rewrite will own the file: the submitter goes into the record now. (The
        // file itself is not rewritten until it is settled: the lock held on it is what keeps
        // recovery away meanwhile.)
        var verified = record
        verified.set(
            "ownerUID",
            JSONValue(Int(JobOwnership.submitter(fileOwner: opened.ownerID, record: record, layout: layout))))
        return TakenJob(id: id, record: verified, lock: fd, from: state)
    }

    /// Moves a taken job on, with its new record; releases it.
    func settle(_ taken: TakenJob, to state: JobState, record: JobRecord) throws(SpoolError) {
        defer { taken.lock.close() }
        var record = record
        // The taker is no processor: a record left half-moved must be settled by recovery at once.
        record.set("processor", nil)
        do { try move(taken.id, to: state, record: record, journalFrom: taken.from) } catch { throw .system(error) }
    }

    /// Cancels a job: a waiting one at once, a running one through its processor.
    public func cancel(_ id: String, by user: String, reason: String?) throws(SpoolError) -> CancelOutcome {
        let request = CancelRequest(jobID: id, requestedBy: user, requestedAt: Timestamp.now(), reason: reason)
        let deadline = ProcessInfoLite.now() + Self.busyWait
        for _ in 0..<5 {
            let (state, _) = try locate(id)
            switch state {
            case .queued, .held, .waiting:
                guard let taken = try takeWaiting(id, from: state, until: deadline) else { continue }
                try settle(taken, to: .cancelled, record: Self.cancelledRecord(taken.record, request))
                JobLog.append(layout, id: id, .warning, request.sentence + " → cancelled/")
                afterCancel(id, request)
                return .cancelled
            case .processing:
                if let running = cancelWaitingParent(id, request) {
                    return running.isEmpty ? .cancelled : .cancellingChildren(running: running)
                }
                let path = try ControlFiles.writeCancel(request, layout: layout)
                return .requested(path: path)
            case .forwarded:
                throw .jobInState(
                    id: id, state: state.displayName,
                    reason: "it was sent to another spool by a route (see its forwardedTo); cancel it there")
            case .done, .failed, .cancelled:
                throw .jobInState(
                    id: id, state: state.displayName,
                    reason: "it has already finished, so there is nothing to cancel; " + finishedJobAdvice(id, state))
            }
        }
        // It moved on five times while we looked: something keeps taking it.
        throw .jobBusy(id: id)
    }

    /// How long a user's command waits for a job another process holds: a processor's claim (or
    /// another command) holds the job file's lock for milliseconds, unless something is wrong.
    static let busyWait = 2.0

    /// `take` for a user's command: while another process holds the job's file, tries again
    /// until `deadline`, then throws `jobBusy`. Nil when the job has left `state` meanwhile.
    func takeWaiting(_ id: String, from state: JobState, until deadline: Double) throws(SpoolError) -> TakenJob? {
        while true {
            if let taken = try take(id, from: state) { return taken }
            guard FileSystem.exists(layout.jobPath(id, in: state)) else { return nil }
            guard ProcessInfoLite.now() < deadline else { throw .jobBusy(id: id) }
            ProcessInfoLite.sleep(seconds: 0.02)
        }
    }

    /// Takes a job for a user's command from whichever of `states` it is in, waiting a moment
    /// while another process holds it (`takeWaiting`); `refusal` is the error for any other state.
    func takeForRequest(
        _ id: String, from states: Set<JobState>, refusal: (JobState) -> SpoolError
    ) throws(SpoolError) -> TakenJob {
        let deadline = ProcessInfoLite.now() + Self.busyWait
        while true {
            let (state, _) = try locate(id)
            guard states.contains(state) else { throw refusal(state) }
            if let taken = try takeWaiting(id, from: state, until: deadline) { return taken }
        }
    }

    /// What a user can do with a finished job, for messages refusing a request on it.
    func finishedJobAdvice(_ id: String, _ state: JobState) -> String {
        state == .done
            ? "'spool show \(id)' shows it, 'spool result \(id)' prints its result"
            : "'spool retry \(id)' runs it again, 'spool show \(id)' shows it"
    }

    /// A cancelled child may end its parent; a parent cancelled before its split was recorded
    /// (its processor died after publishing the children) takes its children with it.
    func afterCancel(_ id: String, _ request: CancelRequest) {
        if let parent = JobID.parent(of: id) {
            settleParent(parent)
        } else if FileSystem.isRealDirectory(layout.batchDirectory(id, in: .queued)) {
            let tree = BatchTree(layout: layout, parent: id)
            cancelUnfinishedChildren(
                of: id, progress: BatchProgress(childCount: 0, counted: []).with(census: tree.census()),
                request: request)
        }
    }

    static func cancelledRecord(_ record: JobRecord, _ request: CancelRequest) -> JobRecord {
        var record = record
        record.set("cancelledAt", .string(request.requestedAt))
        record.set("cancelledBy", .string(request.requestedBy))
        record.set("error", .string(request.sentence))
        return record
    }

    /// Puts a failed or cancelled job back in `queued/`: its attempt budget starts again, and
    /// progress, error, times and exit status are reset, with the earlier outcome kept in
    /// `history`.
    public func retry(_ id: String, by user: String) throws(SpoolError) {
        let (state, path) = try locate(id)
        if JobID.parent(of: id) == nil, state.isTerminal, isParentRecord(path) {
            _ = try retryParent(id, from: state, by: user)
            return
        }
        guard let parent = JobID.parent(of: id) else {
            try requeue(id, by: user)
            return
        }
        // A child: under its waiting parent's lock, so that no settle counts it as failed while
        // it goes back to queued/; a finished parent is brought back to wait for it.
        if let waiting = lockWaitingParent(parent) {
            defer { waiting.lock.close() }
            try requeue(id, by: user)
        } else {
            try requeue(id, by: user)
            if let (parentState, _) = try? locate(parent), parentState.isTerminal {
                try reopenParent(parent, from: parentState, by: user)
            }
        }
    }

    /// Puts one failed or cancelled job back in `queued/`, its earlier outcome in `history`.
    func requeue(_ id: String, by user: String) throws(SpoolError) {
        let taken = try takeForRequest(id, from: [.failed, .cancelled]) { state in
            .jobInState(id: id, state: state.displayName, reason: retryRefusal(id, state))
        }
        let state = taken.from
        var record = taken.record
        record.moveOutcomeToHistory(
            from: state, by: user,
            keys: [
                "attempts", "deferredAttempts", "startedAt", "finishedAt", "durationSeconds", "exitCode", "signal",
                "error", "progress", "processor", "cancelledAt", "cancelledBy", "result", "records", "cpuSeconds",
                "maxRSS",
            ])
        record.set("notBefore", nil)
        try settle(taken, to: .queued, record: record)
        JobLog.append(layout, id: id, .info, "retried by \(user) (was \(state.rawValue)) → queued/")
    }

    /// Why a job in `state` cannot be retried, and what can be done instead.
    func retryRefusal(_ id: String, _ state: JobState) -> String {
        switch state {
        case .done:
            return "it succeeded, and only failed or cancelled jobs can be retried (a new job runs it again); "
                + finishedJobAdvice(id, state)
        case .forwarded:
            return "it was sent to another spool by a route (see its forwardedTo); retry it there"
        default:
            return "it has not finished; only failed or cancelled jobs can be retried"
                + (state == .processing ? " ('spool cancel \(id)' stops it)" : "")
        }
    }

    /// Whether the job file at `path` is a parent (carries a `batch` section).
    func isParentRecord(_ path: String) -> Bool {
        let limit = max(spool.configuration.maximumJobBytes, 64 * 1024 * 1024)
        guard let bytes = try? FileSystem.readFile(path, limit: limit),
            let record = try? JobRecord(parsing: bytes, path: path)
        else { return false }
        return record.isParent && record.childCount != nil
    }

    /// Holds a queued job in `held/`, where no processor claims it.
    /// A parent waiting for its children holds every queued child instead.
    public func hold(_ id: String, by user: String) throws(SpoolError) {
        if changeHoldOfChildren(id, hold: true, by: user) != nil { return }
        try moveWaiting(id, from: .queued, to: .held, verb: "held", by: user)
    }

    /// Releases a held job back to `queued/`; for a waiting parent, every held child.
    public func release(_ id: String, by user: String) throws(SpoolError) {
        if changeHoldOfChildren(id, hold: false, by: user) != nil { return }
        try moveWaiting(id, from: .held, to: .queued, verb: "released", by: user)
    }

    private func moveWaiting(_ id: String, from: JobState, to: JobState, verb: String, by user: String)
        throws(SpoolError)
    {
        if try locate(id).state == to { return }
        let taken = try takeForRequest(id, from: [from]) { state in
            .jobInState(id: id, state: state.displayName, reason: "only \(from.displayName) jobs can be \(verb)")
        }
        try settle(taken, to: to, record: taken.record)
        JobLog.append(layout, id: id, .info, "\(verb) by \(user) → \(to.rawValue)/")
    }
}

extension JobRecord {
    /// Moves the outcome fields `keys` of a finished attempt into a new entry of `history`
    /// (with the state it was in, and who retried it when), clearing them from the record.
    mutating func moveOutcomeToHistory(from state: JobState, by user: String, keys: [String]) {
        var entry = JSONObject([("state", .string(state.rawValue))])
        for key in keys {
            if let value = fields[key] { entry[key] = value }
            set(key, nil)
        }
        entry["retriedAt"] = .string(Timestamp.now())
        entry["retriedBy"] = .string(user)
        var history = fields["history"]?.arrayValue ?? []
        history.append(.object(entry))
        set("history", .array(history))
    }
}
