import SpoolJSON
import SpoolSystem

/// What recovery did with one job in `processing/`.
enum RecoveryOutcome {
    /// A live processor (or a handler it started) holds it.
    case ownedByLiveProcessor
    /// Its processor on this host is gone, but handlers it started still run: recoverable later.
    case awaitingOrphanedHandlers
    /// It was moved on (back to queued/, or to the state its record was going to).
    case recovered(JobState)
    /// Nothing there (any more).
    case notPresent
    /// Could not be examined now; try again at the next pass.
    case skipped
}

/// What one recovery pass over `processing/` found.
public struct RecoveryPass: Sendable {
    /// Jobs moved on, with the state they went to.
    public var moved: [(id: String, state: JobState)] = []
    /// Jobs of processors on this host that died while handlers they started still run.
    public var awaitingOrphanedHandlers = 0
    /// Staging files (`tmp/start~ID.*`, `tmp/result-ID.*`) of attempts that are over, removed.
    public var removedStaging = 0
}

extension JobStore {
    /// Settles every job in `processing/` whose processor is gone (killed, crashed, power loss):
    /// a job that was running goes back to `queued/` with the attempt counted (or to `failed/`
    /// when no attempts remain); a move that was under way is completed. Never touches a job
    /// whose owner (or a handler it started) still holds its lock. Returns the jobs moved.
    @discardableResult
    public func recoverOrphans() -> RecoveryPass {
        let directory = layout.directory(.processing)
        var pass = RecoveryPass()
        // Recovery rewrites records it does not own: two recoverers on one job could each move
        // it. One pass at a time per spool; a processor that finds the lock taken skips its pass.
        guard let recoveryLock = acquireRecoveryLock() else { return pass }
        defer { recoveryLock.close() }
        guard let entries = try? FileSystem.listDirectory(directory) else { return pass }
        var liveness = ProcessorLiveness(layout: layout, ownName: processor?.name)
        // What dead processors' jobs left running on this host goes first: it may hold claims.
        JobContainment.killLeftovers(layout: layout) { liveness.isAlive($0) }
        var ids: [String] = []
        for entry in entries {
            let isDirectory =
                entry.kindHint == .directory
                || (entry.kindHint == nil
                    && (try? FileSystem.statusNotFollowing(directory: directory, rawName: entry.rawName))?.kind
                        == .directory)
            if isDirectory, let parent = QueueWatcher.batchDirectoryName(entry.rawName) {
                // A batch subdirectory: its children are recovered like any job.
                let children = (try? FileSystem.listDirectory(layout.batchDirectory(parent, in: .processing))) ?? []
                ids += children.compactMap { JobID.id(fromFileName: $0.rawName).map { parent + "/" + $0 } }
                continue
            }
            guard let id = JobID.id(fromFileName: entry.rawName) else {
                if !JobID.isProducerTemporary(entry.rawName) {
                    reject(directory: directory, rawName: entry.rawName, reason: "it is not a job file of this spool")
                }
                continue
            }
            ids.append(id)
        }
        for id in ids {
            switch recoverOne(id, liveness: &liveness) {
            case .recovered(let state): pass.moved.append((id, state))
            case .awaitingOrphanedHandlers: pass.awaitingOrphanedHandlers += 1
            case .ownedByLiveProcessor, .notPresent, .skipped: break
            }
        }
        // What attempts that are over left in tmp/ (their job has moved on; see removeAbandonedStaging).
        pass.removedStaging = removeAbandonedStaging()
        liveness.removeDeadLocks()
        return pass
    }

    /// The spool-wide recovery lock (`processors/.recovery.lock`), or nil while another process
    /// holds it.
    func acquireRecoveryLock() -> FileDescriptor? {
        let path = layout.processorsDirectory + "/.recovery.lock"
        let fd: FileDescriptor
        do { fd = try FileSystem.open(path, OpenFlags.readOnly | OpenFlags.create | OpenFlags.noFollow) } catch {
            // Not a lock someone holds (that is a lock, not an error): a FIFO, a link, a
            // directory put in its place, or a refusal. Recovery cannot run until it is mended.
            Diagnostics.warn("recovery skipped: \(error); remove or repair \(layout.relative(path))")
            return nil
        }
        if (try? fd.lockExclusive(path: path)) == true { return fd }
        fd.close()
        return nil
    }

    /// Settles `processing/ID.json` if its owner is gone. The caller holds the recovery lock.
    /// `inspectOnly` (for `spool fsck`) decides the same way but moves nothing: an orphan comes
    /// back as `.recovered(.processing)`, an unreadable record as `.skipped`.
    func recoverOne(_ id: String, liveness: inout ProcessorLiveness, inspectOnly: Bool = false) -> RecoveryOutcome {
        let path = layout.jobPath(id, in: .processing)
        let fd: FileDescriptor
        do { fd = try FileSystem.openForReadingSafely(path) } catch {
            return error.isNotFound ? .notPresent : .skipped
        }
        defer { fd.close() }
        // Between claim and start the claimer holds this file's own lock.
        guard (try? fd.lockExclusive(path: path)) == true else { return .ownedByLiveProcessor }
        guard let status = try? fd.status(path: path), let current = try? FileSystem.statusNotFollowing(path),
            current.isSameFile(as: status)
        else { return .skipped }
        let bytes: [UInt8]
        var record: JobRecord
        do {
            bytes = try fd.readAll(limit: max(spool.configuration.maximumJobBytes, 64 * 1024 * 1024), path: path)
            record = try JobRecord(parsing: bytes, path: path)
        } catch {
            if inspectOnly { return .skipped }
            reject(
                directory: layout.directory(.processing), rawName: Array(JobID.fileName(id).utf8),
                reason: "found in processing/ but unreadable: \(Intake.reason(error))")
            return .recovered(.failed)
        }
        // Recovery's rewrite will own the file: the submitter goes into the record first.
        record.set(
            "ownerUID",
            JSONValue(Int(JobOwnership.submitter(fileOwner: status.ownerID, record: record, layout: layout))))
        // A parent waiting for its children belongs to its tree, not to a processor.
        if record.status == BatchStatus.waitingForChildren { return .ownedByLiveProcessor }
        // Started under group commit, its owner stopped before the running record landed: the
        // staged record in tmp/ says the attempt began (see RecordLanding). It is the job's
        // latest truth whatever the record names (a record claimed from queued/ may still name
        // the processor of an earlier attempt), and its attempt is counted.
        // Every staged start of this job in tmp/ now is of an attempt that is over: a live
        // processor's start lands before the claim's lock (which this pass holds) is released.
        // The one believed counts; the others (cut short by the kill, or of an attempt whose
        // record a recovery killed meanwhile had already rewritten) are only removed, with it.
        let stagedStarts = stagedStartPaths(of: id)
        if let staged = stagedStart(of: id, claimed: record, among: stagedStarts) {
            record = staged.record
        }
        // The rule: a claim is alive while any process of it holds the attempt's lock (its
        // result file: the processor, and the job's processes as their standard output).
        let abandonedResults: [String]
        switch attemptLock(of: id, owner: record.processorName, liveness: &liveness, killingLeftovers: !inspectOnly) {
        case .held: return .ownedByLiveProcessor
        case .heldByOrphans: return .awaitingOrphanedHandlers
        case .free(let leftovers): abandonedResults = leftovers
        }
        // A processor of an earlier version kept no attempt lock: while the processor its record
        // names lives, leave the job to it.
        if let owner = record.processorName, liveness.isAlive(owner) {
            return liveness.isOrphanedOnThisHost(owner) ? .awaitingOrphanedHandlers : .ownedByLiveProcessor
        }
        // Checked again after the attempt's lock: a live owner may have moved the job on meanwhile.
        guard let latest = try? FileSystem.statusNotFollowing(path), latest.isSameFile(as: status) else {
            return .skipped
        }
        if inspectOnly { return .recovered(.processing) }

        let target: JobState
        switch record.status {
        case "running":
            // The owner died during an attempt (already counted when it started).
            let owner = record.processorName ?? "an unknown processor"
            let maximum = record.maximumAttempts ?? spool.configuration.handlers[record.type]?.maximumAttempts ?? 3
            record.set("finishedAt", .string(Timestamp.now()))
            if record.countedAttempts >= maximum {
                record.set(
                    "error",
                    .string(
                        "processor \(owner) stopped during attempt \(record.attempts); "
                            + "gave up after \(record.countedAttempts) attempts"))
                target = .failed
            } else {
                record.set("error", .string("processor \(owner) stopped during attempt \(record.attempts); retrying"))
                target = .queued
                // It belongs to no processor until the next claim.
                record.set("processor", nil)
            }
            JobLog.append(
                layout, id: id, .warning,
                "recovered from processor \(owner), which stopped during attempt \(record.attempts); "
                    + "moved to \(target.rawValue)/")
        case "done", "failed", "cancelled", "queued":
            // A move was under way when the owner stopped: finish it.
            target = JobState(rawValue: record.status!)!
        default:
            // Claimed but never started: no attempt to count.
            target = .queued
            record.set("processor", nil)
        }
        do {
            let final = try move(id, to: target, record: record)
            // Only now: if the move failed, the next pass still finds the start to count. (A
            // recovery killed right here leaves them to the next pass's removeAbandonedStaging.)
            for path in stagedStarts { try? FileSystem.unlinkIfPresent(path) }
            // The output of an attempt that did not finish is discarded, as a retry's is.
            for path in abandonedResults { try? FileSystem.unlinkIfPresent(path) }
            return .recovered(final)
        } catch {
            Diagnostics.warn("could not recover \(layout.relative(path)): \(error)")
            return .skipped
        }
    }
}

/// Whether the processes of a job's attempt still hold its lock.
enum AttemptLockState {
    /// No process holds it; the paths are the attempt's in-progress result files (nobody's now).
    case free(leftovers: [String])
    /// Held, by its live processor or by processes of the attempt.
    case held
    /// Held only by processes of an attempt whose processor on this host has stopped, and that
    /// could not be stopped (not ours to kill): recoverable once they end.
    case heldByOrphans
}

extension JobStore {
    /// The attempt's lock of job `id`: its in-progress result files in tmp/ and its published
    /// result (between the result's publication and the move, the lock lives on there). When it
    /// is held although `owner`, a processor of this host, has stopped, what holds it is left of
    /// that attempt: killed here, as its cgroup would have been (docs/FORMAT.md, section 6).
    func attemptLock(
        of id: String, owner: String?, liveness: inout ProcessorLiveness, killingLeftovers: Bool = true
    ) -> AttemptLockState {
        let label = "result-" + id
        var inProgress: [String] = []
        for entry in (try? FileSystem.listDirectory(layout.temporaryDirectory)) ?? [] {
            if let name = entry.name, layout.isTemporaryName(name, for: label) {
                inProgress.append(layout.temporaryDirectory + "/" + name)
            }
        }
        // A job whose id is `result-ID` stages its record rewrites under the same names: those
        // count as locks here (a false "held" only delays), but are never removed as leftovers.
        let leftovers = mayBeRecordRewrites(label) ? [] : inProgress
        for path in [layout.resultPath(id)] + inProgress {
            guard let fd = try? FileSystem.openForReadingSafely(path) else { continue }
            defer { fd.close() }
            if (try? fd.lockExclusive(path: path)) != false { continue }
            guard let owner, !liveness.isAlive(owner), liveness.isOnThisHost(owner) else { return .held }
            guard killingLeftovers, let status = try? fd.status(path: path) else { return .heldByOrphans }
            let killed = OrphanReaper.killProcesses(holdingForWriting: status)
            if killed > 0 {
                Diagnostics.warn(
                    "killed \(killed) process(es) left of job \(id) by processor \(owner), which stopped")
                JobLog.append(
                    layout, id: id, .warning, "killed \(killed) process(es) left by processor \(owner), which stopped")
            }
            if (try? fd.lockExclusive(wait: false, path: path)) != true {
                // One more look after they are reaped by whoever is their parent now.
                ProcessInfoLite.sleep(seconds: 0.05)
                if (try? fd.lockExclusive(path: path)) != true { return .heldByOrphans }
            }
        }
        return .free(leftovers: leftovers)
    }

    /// Whether staging names made for `label` may also be record rewrites of a job in
    /// `processing/` (whose id is `label`, a child's `+` for its `/`): `rewriteProcessing`
    /// stages under the bare id.
    func mayBeRecordRewrites(_ label: String) -> Bool {
        let id = label.replacingOccurrences(of: "+", with: "/")
        return JobID.referenceProblem(with: id) == nil && !isCertainlyAbsent(layout.jobPath(id, in: .processing))
    }

    /// True only when `path` certainly does not exist (lstat says ENOENT): any other answer,
    /// an error included, counts as present.
    func isCertainlyAbsent(_ path: String) -> Bool {
        do { return try FileSystem.statusNotFollowing(path) == nil } catch { return false }
    }

    /// The running record a processor staged in tmp/ for the attempt that follows `claimed`
    /// (status running, one attempt more), if one is there whole: a start whose landing a dead
    /// processor never finished. After a power cut it may be missing or empty; then the attempt
    /// goes uncounted.
    func stagedStart(of id: String, claimed: JobRecord) -> (record: JobRecord, path: String)? {
        stagedStart(of: id, claimed: claimed, among: stagedStartPaths(of: id))
    }

    /// The staged start records of job `id` in tmp/ (`start~ID.*`), whatever they hold.
    func stagedStartPaths(of id: String) -> [String] {
        let label = Self.startLabel(id)
        return ((try? FileSystem.listDirectory(layout.temporaryDirectory)) ?? []).compactMap { entry in
            guard let name = entry.name, layout.isTemporaryName(name, for: label) else { return nil }
            return layout.temporaryDirectory + "/" + name
        }
    }

    /// The one of `paths` that `stagedStart(of:claimed:)` believes.
    func stagedStart(of id: String, claimed: JobRecord, among paths: [String]) -> (record: JobRecord, path: String)? {
        // Submitters may write tmp/ too: only a regular file a trusted uid wrote, with no other
        // name (not a hard link to some other file of ours), never through a link, and only a
        // record that is the claimed one plus what a start adds.
        let trusted = JobOwnership.trustedWriters(layout)
        for path in paths {
            guard let fd = try? FileSystem.openForReadingSafely(path) else { continue }
            defer { fd.close() }
            guard let status = try? fd.status(path: path), status.kind == .regular, status.linkCount == 1,
                trusted.contains(status.ownerID),
                let bytes = try? fd.readAll(limit: max(spool.configuration.maximumJobBytes, 1 << 20), path: path),
                let staged = try? JobRecord(parsing: bytes, path: path),
                staged.status == "running", staged.attempts == claimed.attempts + 1, staged.processorName != nil,
                staged.ownerUID == claimed.ownerUID, staged.type == claimed.type,
                staged.fields["payload"] == claimed.fields["payload"]
            else { continue }
            return (staged, path)
        }
        return nil
    }

    /// Staging files older than this are leftovers of a processor or submitter that died mid-write.
    public static let staleTemporaryAge = 24 * 3600.0

    /// Removes leftovers in `tmp/` older than `staleTemporaryAge` (a record, result or
    /// submission that a dead process never renamed into place). Returns how many went.
    @discardableResult
    public func removeStaleTemporaries(now: Double = ProcessInfoLite.now()) -> Int {
        let directory = layout.temporaryDirectory
        guard let entries = try? FileSystem.listDirectory(directory) else { return 0 }
        var removed = 0
        for entry in entries {
            guard let name = entry.name, name.hasSuffix(".tmp") else { continue }
            let path = directory + "/" + name
            guard let status = try? FileSystem.statusNotFollowing(path),
                status.kind == .regular || status.kind == .directory,
                now - Double(status.modificationTimeNanoseconds) / 1e9 > Self.staleTemporaryAge
            else { continue }
            if status.kind == .directory {
                // A split that a dead processor never published: its children were not run.
                FileSystem.removeShallowTree(path)
                if !FileSystem.exists(path) { removed += 1 }
            } else if (try? FileSystem.unlink(path)) != nil {
                removed += 1
            }
        }
        return removed
    }
}

/// A staging file of one attempt of a job, in tmp/: its staged start record
/// (`start~ID.PID-START.N.tmp`) or its in-progress result (`result-ID.PID-START.N.tmp`).
struct AttemptStaging {
    enum Kind { case start, result }
    let kind: Kind
    /// The job's id (a child's `PARENT/CHILD`).
    let id: String
    let name: String
}

extension JobStore {
    /// Every staging file of an attempt in tmp/, whoever's.
    func attemptStagingFiles() -> [AttemptStaging] {
        var found: [AttemptStaging] = []
        for entry in (try? FileSystem.listDirectory(layout.temporaryDirectory)) ?? [] {
            // LABEL.PID-START.N.tmp: ids may contain dots, so the label is all but the last three parts.
            guard let name = entry.name, name.hasSuffix(".tmp") else { continue }
            let parts = name.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count >= 4 else { continue }
            let label = parts.dropLast(3).joined(separator: ".")
            guard layout.isTemporaryName(name, for: label) else { continue }
            let kind: AttemptStaging.Kind
            let flatID: Substring
            if label.hasPrefix(Self.startLabel("")) {
                (kind, flatID) = (.start, label.dropFirst(Self.startLabel("").count))
            } else if label.hasPrefix("result-") {
                (kind, flatID) = (.result, label.dropFirst("result-".count))
            } else {
                continue
            }
            // A child's `/` is `+` in staging names, and `+` is in no id.
            let id = flatID.replacingOccurrences(of: "+", with: "/")
            guard JobID.referenceProblem(with: id) == nil else { continue }
            found.append(AttemptStaging(kind: kind, id: id, name: name))
        }
        return found
    }

    /// Removes the staging files of attempts that are over and that no process holds: a
    /// processor killed between the steps of its start, or a recovery killed between its move and
    /// its clean-up, leaves them in tmp/ after their job has moved on, and nothing else would
    /// look at them again. The caller holds the recovery lock. Returns how many went.
    @discardableResult
    func removeAbandonedStaging() -> Int {
        attemptStagingFiles().filter { isAbandoned($0, removing: true) }.count
    }

    /// The staging files in tmp/ that `removeAbandonedStaging` would remove (for `spool fsck`),
    /// looked at under the recovery lock; none while another pass holds it (that pass removes them).
    func abandonedStaging() -> [AttemptStaging] {
        guard let recoveryLock = acquireRecoveryLock() else { return [] }
        defer { recoveryLock.close() }
        return attemptStagingFiles().filter { isAbandoned($0, removing: false) }
    }

    /// Whether `staging`, listed before this call, belongs to an attempt that is over and is held
    /// by no process; with `removing`, it is removed (a result while this call holds its lock).
    ///
    /// Staging files of a job are made only during a claim of it, while its file is in
    /// `processing/`; a claim ends only when the job leaves `processing/`, and its processor
    /// takes the result's lock, and lands or removes its staged start, before the job leaves
    /// (unless it dies). So a staging file listed before its job was found absent from
    /// `processing/` is of a claim that has ended: its processor died, or is done with it except
    /// for a result whose lock it still holds (never removed here). A new claim of the job makes
    /// files of new names, which were not listed.
    func isAbandoned(_ staging: AttemptStaging, removing: Bool) -> Bool {
        guard isCertainlyAbsent(layout.jobPath(staging.id, in: .processing)) else { return false }
        let path = layout.temporaryDirectory + "/" + staging.name
        switch staging.kind {
        case .start:
            guard FileSystem.exists(path) else { return false }
            if !removing { return true }
            do { try FileSystem.unlink(path) } catch { return false }
            return true
        case .result:
            // The same name may be a record rewrite of a job whose id is `result-ID`.
            guard !mayBeRecordRewrites("result-" + staging.id),
                let status = try? FileSystem.statusNotFollowing(path), status.kind == .regular,
                let fd = try? FileSystem.openForReadingSafely(path)
            else { return false }
            defer { fd.close() }
            // Its lock free, and the name still the file locked: removed while locked here.
            guard (try? fd.lockExclusive(path: path)) == true, let locked = try? fd.status(path: path),
                locked.isSameFile(as: status)
            else { return false }
            if !removing { return true }
            do { try FileSystem.unlink(path) } catch { return false }
            return true
        }
    }
}
