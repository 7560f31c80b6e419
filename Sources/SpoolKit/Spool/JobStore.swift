import SpoolSystem
import Synchronization

/// The spool's transitions. Every change of state is one atomic rename inside the spool, and
/// none replaces a job that exists: the rename is the claim, so several processors (or hosts)
/// on one spool never run the same job at the same time.
///
/// A record is rewritten only inside `processing/` (a new file in tmp/, renamed over the claimed
/// one), and its `status` always says where it is going next, so a processor that dies between
/// two steps leaves a record that recovery can finish without guessing.
public final class JobStore: Sendable {
    public let spool: Spool
    /// The processor using this store; nil for one-shot commands (submit, list, show).
    public let processor: ProcessorIdentity?
    /// Types with a handler: those in spool.json plus in-process handlers of an embedding program.
    public let knownTypes: Set<String>
    /// Whether this spool can take a job: its type has a handler, or a route forwards it.
    public func accepts(_ record: JobRecord) -> Bool {
        knownTypes.contains(record.handlerType) || spool.configuration.route(for: record) != nil
    }
    /// Record counts of child batch jobs already read, for settling parents again cheaply.
    let childCounts = ChildCountsCache()
    /// Called when something was put in an outbox (the processor's forwarder listens).
    let outboxFilled = Mutex<(@Sendable () -> Void)?>(nil)
    /// How changes reach stable storage: the spool's `durability`, grouped for a processor.
    let commits: CommitStrategy
    /// Where every transition made through this store is recorded.
    public let journal: EventJournal
    /// Counts of the transitions made through this store (for the metrics file).
    public let metrics = ProcessorMetrics()

    public var layout: SpoolLayout { spool.layout }

    /// The features that hear of every move (`JobTransition`).
    let observers: [any TransitionObserver]

    public init(spool: Spool, processor: ProcessorIdentity? = nil, inProcessTypes: Set<String> = []) {
        self.observers = Self.standardObservers
        self.spool = spool
        self.processor = processor
        self.knownTypes = Set(spool.configuration.handlers.keys).union(inProcessTypes)
        self.commits = CommitStrategy.forStore(
            spool.configuration.durability, isProcessor: processor != nil, root: spool.layout.root)
        self.journal = EventJournal(
            layout: spool.layout, retention: spool.configuration.eventRetention, prunes: processor != nil)
    }

    // MARK: Record rewrites

    /// Replaces the record of a job this processor holds in `processing/`. With `keepLocked`,
    /// the new file is published holding its own flock and the descriptor is returned (the
    /// caller closes it): recovery leaves a locked record alone, so a record whose status says
    /// "moving to done/" is not taken for a dead process's half-done move while its live owner
    /// is about to rename it.
    @discardableResult
    func rewriteProcessing(_ id: String, _ record: JobRecord, keepLocked: Bool = false) throws(SystemError)
        -> FileDescriptor?
    {
        let temporary = layout.temporaryPath(id)
        let fd = try FileSystem.createExclusive(temporary)
        // Closed exactly once, on every path: a second close could hit a descriptor another
        // thread has just opened.
        var keep = false
        defer { if !keep { fd.close() } }
        do {
            try fd.writeAll(record.serialized(), path: temporary)
            if keepLocked { _ = try fd.lockExclusive(path: temporary) }
            try commits.stage([temporary])
            try FileSystem.rename(temporary, to: layout.jobPath(id, in: .processing))
        } catch {
            try? FileSystem.unlinkIfPresent(temporary)
            throw error
        }
        // A rewrite is not reported to anyone: the next commit (the move's) makes it durable.
        try commits.published(in: [layout.directory(.processing)], acknowledged: false)
        keep = keepLocked
        return keepLocked ? fd : nil
    }

    /// Moves a job this processor holds from `processing/` to `state`, recording `record` (with
    /// its status set to the target) first. Never replaces a job already in the target: a
    /// clash sends this copy to `failed/` under a fresh name, with the reason, so nothing is lost.
    /// Returns the state the job actually ended in. The event journal records the move as from
    /// `journalFrom` (the state a user request took the job from; else `processing`).
    @discardableResult
    public func move(_ id: String, to state: JobState, record: JobRecord, journalFrom: JobState = .processing)
        throws(SystemError) -> JobState
    {
        var record = record
        record.status = state == .processing ? "running" : state.rawValue
        // Locked until the move is done (see rewriteProcessing).
        let recordLock = try rewriteProcessing(id, record, keepLocked: true)
        defer { recordLock?.close() }
        let transition = JobTransition(id: id, from: journalFrom, to: state, record: record)
        // Before the rename: a crash after it would leave no one to hear of it, while recovery
        // completes this move (and tells them again) if the crash comes first.
        for observer in observers { observer.preparing(transition, in: self) }
        let source = layout.jobPath(id, in: .processing)
        let target = layout.jobPath(id, in: state)
        do throws(SystemError) {
            try renameIntoState(source, to: target, id: id)
            // Durable before anyone hears of it: the caller counts it, waiters are released.
            do throws(SystemError) {
                let directories = [FileSystem.directoryName(of: source), FileSystem.directoryName(of: target)]
                try commits.published(in: directories, acknowledged: true)
            } catch {
                // Not known to be durable, so not done: put it back where it was (still locked
                // by us), so that a retry of this move, or recovery, finds it in processing/.
                try? FileSystem.renameNoReplace(target, to: source)
                throw error
            }
            recordEvent(id, record: record, from: journalFrom, to: state)
            for observer in observers { observer.completed(transition, in: self) }
            return state
        } catch  where error.isNotFound {
            // Someone (recovery, or a retransmitted rename on NFS) already completed this move.
            if FileSystem.exists(target) { return state }
            throw error
        } catch  where error.isAlreadyExists {
            let stem = JobID.rejectedStem(for: Array(id.utf8))  // flat: a clashing child leaves its batch
            record.status = JobState.failed.rawValue
            record.set("error", .string("could not move to \(state.rawValue)/: a job with id \(id) is already there"))
            let clashLock = try rewriteProcessing(id, record, keepLocked: true)
            defer { clashLock?.close() }
            try FileSystem.renameNoReplace(source, to: layout.directory(.failed) + "/" + stem + ".json")
            try commits.published(
                in: [FileSystem.directoryName(of: source), layout.directory(.failed)], acknowledged: true)
            JobLog.append(
                layout, id: id, .error,
                "\(state.rawValue)/\(id).json already exists; this copy was kept as failed/\(stem).json")
            recordEvent(stem, record: record, from: journalFrom, to: .failed)
            return .failed
        }
    }

    /// Renames a job file into a state directory without replacing anything. A child's batch
    /// subdirectory there is made on first use (and again if it was removed meanwhile).
    func renameIntoState(_ source: String, to target: String, id: String) throws(SystemError) {
        if JobID.parent(of: id) != nil {
            // A batch directory replaced by a link must not lead a job file out of the spool.
            for directory in [FileSystem.directoryName(of: source), FileSystem.directoryName(of: target)]
            where FileSystem.exists(directory) && !FileSystem.isRealDirectory(directory) {
                throw SystemError("move a child job through", path: directory, code: ErrnoCode.tooManyLinks)
            }
        }
        do {
            try FileSystem.renameNoReplace(source, to: target)
        } catch  where error.isNotFound && JobID.parent(of: id) != nil && FileSystem.exists(source) {
            try FileSystem.makeDirectory(FileSystem.directoryName(of: target))
            try FileSystem.renameNoReplace(source, to: target)
        }
    }

    /// Appends a transition to the event journal.
    func recordEvent(_ id: String, record: JobRecord, from: JobState?, to: JobState) {
        recordEvent(JobEvent(id: id, record: record, from: from, to: to, processor: processor?.name))
    }

    func recordEvent(_ event: JobEvent) {
        journal.append(event)
        metrics.record(event)
    }

    // MARK: Rejection of bad input

    /// Moves an entry that is not a runnable job from `directory` to `failed/`, keeping its bytes
    /// (and, for a link or FIFO, the entry itself, never opened or followed), and logs why.
    /// Returns the id it has in `failed/`, or nil when another processor handled it first.
    @discardableResult
    public func reject(directory: String, rawName: [UInt8], reason: String, shownAs: String? = nil) -> String? {
        let shownPath = shownAs ?? (layout.relative(directory) + "/" + DirectoryEntry.printable(rawName))
        // An entry of a batch directory is moved only while that directory is not a link.
        if let slash = rawName.firstIndex(of: UInt8(ascii: "/")),
            !FileSystem.isRealDirectory(directory + "/" + String(decoding: rawName[..<slash], as: UTF8.self))
        {
            return nil
        }
        // Keep the file's own name only when no other job has that id: one id, one job.
        // A child keeps its place in its batch (failed/PARENT/CHILD.json), so the parent counts it.
        var stem = JobID.reference(fromRelativeName: rawName) ?? JobID.rejectedStem(for: rawName)
        let sourceState = JobState.allCases.first { layout.directory($0) == directory }
        if existingState(of: stem, excluding: sourceState) != nil { stem = JobID.rejectedStem(for: rawName) }
        for _ in 0..<3 {
            let target = layout.directory(.failed) + "/" + stem + ".json"
            do {
                if let parent = JobID.parent(of: stem) {
                    try FileSystem.makeDirectory(layout.batchDirectory(parent, in: .failed))
                }
                try FileSystem.renameNoReplace(directory: directory, rawName: rawName, to: target)
                try? commits.published(in: [directory, FileSystem.directoryName(of: target)], acknowledged: true)
                JobLog.append(layout, id: stem, .error, "rejected \(shownPath): \(reason)")
                // Bad input has no record to read; it came from queued/ even when caught in processing/.
                let from = sourceState == .processing && shownAs != nil ? JobState.queued : sourceState
                recordEvent(
                    JobEvent(
                        time: ProcessInfoLite.now(), id: stem, type: "?", from: from?.rawValue,
                        to: JobState.failed.rawValue, processor: processor?.name))
                let movedNote =
                    JobID.reference(fromRelativeName: rawName) == stem ? "" : " (kept as failed/\(stem).json)"
                Diagnostics.warn("rejected \(shownPath): \(reason)\(movedNote)")
                return stem
            } catch  where error.isAlreadyExists {
                stem = JobID.rejectedStem(for: rawName)
            } catch  where error.isNotFound {
                return nil
            } catch {
                Diagnostics.warn("could not move \(shownPath) to failed/: \(error); it stays where it is")
                return nil
            }
        }
        return nil
    }

    // MARK: Lookup

    /// Where the job with this id is, searching every state directory.
    public func locate(_ id: String) throws(SpoolError) -> (state: JobState, path: String) {
        try JobID.validateReference(id)
        for state in JobState.allCases {
            let path = layout.jobPath(id, in: state)
            if FileSystem.exists(path) { return (state, path) }
        }
        throw .jobNotFound(id: id)
    }

    /// The state that already holds a job with this id, other than `excluding`, if any.
    func existingState(of id: String, excluding: JobState? = nil) -> JobState? {
        JobState.allCases.first { $0 != excluding && FileSystem.exists(layout.jobPath(id, in: $0)) }
    }
}
