import SpoolJSON
import SpoolSystem

/// A job this processor has claimed: its file is in `processing/` and the open file's flock
/// keeps recovery away until `JobStore.begin` records the owner.
public struct ClaimedJob: Sendable {
    public let id: String
    public var record: JobRecord
    /// Seconds since the epoch when the file arrived in `queued/` (its ctime there).
    public let arrivedAt: Double
    /// The uid owning the job file when it was claimed.
    public let ownerID: UInt32
    /// The uid the job acts for: the file's owner, or the `ownerUID` a trusted writer recorded
    /// (`JobOwnership`). Also written into `record` at once, so every later rewrite keeps it.
    public let submitterID: UInt32
    let claimLock: FileDescriptor
}

/// What became of an attempt to claim a queued job.
public enum ClaimOutcome: Sendable {
    case claimed(ClaimedJob)
    /// Another processor took it first, or it vanished: nothing to do.
    case gone
    /// It was not a runnable job and now lies in `failed/` with its reason.
    case rejected
}

extension JobStore {
    /// Claims `queued/ID.json`: lock the open file, then rename it into `processing/` without
    /// replacing anything. Bad input is moved to `failed/` with its reason.
    public func claim(_ id: String) -> ClaimOutcome {
        let queuedDirectory = layout.directory(.queued)
        let path = layout.jobPath(id, in: .queued)
        let rawName = Array(JobID.fileName(id).utf8)
        // A child is claimed only from a real batch directory, never through a link.
        if let parent = JobID.parent(of: id), !FileSystem.isRealDirectory(layout.batchDirectory(parent, in: .queued)) {
            return .gone
        }
        // lstat first: a FIFO, socket or device is never opened (opening one has effects).
        guard let entryStatus = try? FileSystem.statusNotFollowing(path) else { return .gone }
        if entryStatus.kind != .regular, let problem = Intake.problem(with: entryStatus, limit: .max) {
            return reject(directory: queuedDirectory, rawName: rawName, reason: problem) == nil ? .gone : .rejected
        }
        let fd: FileDescriptor
        do {
            fd = try FileSystem.openForReadingSafely(path)
        } catch  where error.isNotFound {
            return .gone
        } catch {
            let reason: String
            switch error.codeName {
            case "ELOOP": reason = "it is a symbolic link (links are never followed)"
            case "ENXIO": reason = "it is a socket"
            default: reason = "it cannot be opened: \(error.reason) (\(error.codeName))"
            }
            return reject(directory: queuedDirectory, rawName: rawName, reason: reason) == nil ? .gone : .rejected
        }
        var keepDescriptor = false
        defer { if !keepDescriptor { fd.close() } }

        let status: FileStatus
        do { status = try fd.status(path: path) } catch { return .gone }
        if Intake.mayBeMidPublish(status, now: ProcessInfoLite.now()) { return .gone }
        if let problem = Intake.problem(with: status, limit: spool.configuration.maximumJobBytes) {
            return reject(directory: queuedDirectory, rawName: rawName, reason: problem) == nil ? .gone : .rejected
        }
        // Lock before the rename, and check the name still refers to this file: a competitor
        // may have claimed it and a new file may have arrived under the same name.
        guard (try? fd.lockExclusive(path: path)) == true,
            let current = try? FileSystem.statusNotFollowing(path), current.isSameFile(as: status)
        else { return .gone }

        let processingPath = layout.jobPath(id, in: .processing)
        do {
            try renameIntoState(path, to: processingPath, id: id)
        } catch  where error.isNotFound {
            return .gone
        } catch  where error.isAlreadyExists {
            return claimConflict(id, rawName: rawName)
        } catch {
            Diagnostics.warn("could not claim \(layout.relative(path)): \(error)")
            return .gone
        }

        // Not reported to anyone (the start's commit covers it), so a failed flush is not fatal here.
        try? commits.published(in: [queuedDirectory, layout.directory(.processing)], acknowledged: false)
        let processingDirectory = layout.directory(.processing)
        let shownPath = "queued/" + JobID.fileName(id)
        let bytes: [UInt8]
        do {
            bytes = try fd.readAll(limit: spool.configuration.maximumJobBytes, path: processingPath)
        } catch {
            _ = reject(
                directory: processingDirectory, rawName: rawName, reason: "it cannot be read: \(error)",
                shownAs: shownPath)
            return .rejected
        }
        let record: JobRecord
        do {
            record = try JobRecord(parsing: bytes, path: "queued/\(id).json")
        } catch {
            _ = reject(
                directory: processingDirectory, rawName: rawName, reason: Intake.reason(error), shownAs: shownPath)
            return .rejected
        }
        if let state = existingState(of: id, excluding: .processing) {
            _ = reject(
                directory: processingDirectory, rawName: rawName,
                reason: "duplicate id: a job \(id) already exists in \(state.rawValue)/", shownAs: shownPath)
            return .rejected
        }
        if !accepts(record) {
            _ = reject(
                directory: processingDirectory, rawName: rawName,
                reason: Intake.unknownTypeReason(record.handlerType), shownAs: shownPath)
            return .rejected
        }
        keepDescriptor = true
        let submitter = JobOwnership.submitter(fileOwner: status.ownerID, record: record, layout: layout)
        var verified = record
        verified.set("ownerUID", JSONValue(Int(submitter)))
        var claimedRecord = record
        claimedRecord.attempts += 1
        recordEvent(id, record: claimedRecord, from: .queued, to: .processing)
        return .claimed(
            ClaimedJob(
                id: id, record: verified, arrivedAt: Double(status.changeTimeNanoseconds) / 1e9,
                ownerID: status.ownerID, submitterID: submitter, claimLock: fd))
    }

    /// `processing/ID.json` exists while `queued/ID.json` waits. If a live processor runs it,
    /// the queued file is a duplicate; otherwise the processing copy is a leftover of a stopped
    /// processor, which recovery settles first.
    private func claimConflict(_ id: String, rawName: [UInt8]) -> ClaimOutcome {
        guard let recoveryLock = acquireRecoveryLock() else { return .gone }
        defer { recoveryLock.close() }
        var liveness = ProcessorLiveness(layout: layout, ownName: processor?.name)
        switch recoverOne(id, liveness: &liveness) {
        case .ownedByLiveProcessor:
            let reason = "duplicate id: a job \(id) is already running"
            return reject(directory: layout.directory(.queued), rawName: rawName, reason: reason) == nil
                ? .gone : .rejected
        case .recovered, .notPresent, .skipped, .awaitingOrphanedHandlers:
            // The leftover was settled; the queued file will be looked at again.
            return .gone
        }
    }

    /// Records that this processor starts the claimed job: status running, attempt counted,
    /// owner named. From here the owner's lock, not the file's, protects the job.
    public func begin(_ claimed: ClaimedJob, now: Double = ProcessInfoLite.now()) throws(SystemError) -> JobRecord {
        let record = runningRecord(claimed, now: now)
        defer { claimed.claimLock.close() }
        try rewriteProcessing(claimed.id, record)
        return record
    }

    /// Starts the claimed job like `begin`, but without waiting for the running record's commit:
    /// the record is staged in tmp/ and `committer` renames it into `processing/` once it is
    /// durable (see `RecordLanding`). Returns the running record, its landing, and the staged record open for
    /// reading (the handler's standard input; the caller closes it).
    func beginLanding(_ claimed: ClaimedJob, committer: GroupCommitter, now: Double = ProcessInfoLite.now())
        throws(SystemError) -> (record: JobRecord, landing: RecordLanding, input: FileDescriptor)
    {
        let record = runningRecord(claimed, now: now)
        let id = claimed.id
        let temporary = layout.temporaryPath(Self.startLabel(id))
        let input: FileDescriptor
        do throws(SystemError) {
            let output = try FileSystem.createExclusive(temporary)
            defer { output.close() }
            try output.writeAll(record.serialized(), path: temporary)
            input = try FileSystem.openForReadingSafely(temporary)
        } catch {
            try? FileSystem.unlinkIfPresent(temporary)
            claimed.claimLock.close()
            throw error
        }
        let landing = RecordLanding(claimLock: claimed.claimLock)
        let processingPath = layout.jobPath(id, in: .processing)
        let processingDirectory = layout.directory(.processing)
        let land: @Sendable (SystemError?) -> Void = { [self] failure in
            do throws(SystemError) {
                if let failure { throw failure }
                try FileSystem.rename(temporary, to: processingPath)
                // Reported to no one: the move's commit covers it.
                try commits.published(in: [processingDirectory], acknowledged: false)
                landing.landed()
            } catch {
                try? FileSystem.unlinkIfPresent(temporary)
                Diagnostics.warn(
                    "could not record the start of job \(id): \(error); its record says so when it ends")
                landing.failed()
            }
        }
        committer.commitLater([temporary], then: land)
        return (record, landing, input)
    }

    /// The staging label of a start record: `~` is in no id, so no other staging name (a
    /// record rewrite, a result) of any job can be taken for a start.
    static func startLabel(_ id: String) -> String { "start~" + id }

    /// The record of an attempt that starts now.
    private func runningRecord(_ claimed: ClaimedJob, now: Double) -> JobRecord {
        var record = claimed.record
        record.status = "running"
        record.attempts += 1
        if record.fields["createdAt"] == nil { record.set("createdAt", .string(Timestamp.format(claimed.arrivedAt))) }
        record.set("startedAt", .string(Timestamp.format(now)))
        for key in [
            "finishedAt", "exitCode", "signal", "error", "errorSeverity", "notBefore", "records", "cpuSeconds",
            "maxRSS",
        ] { record.set(key, nil) }
        record.set("progress", JSONValue(0))
        if let processor { record.set("processor", processor.recordValue) }
        record.set("ownerUID", JSONValue(Int(claimed.submitterID)))
        // Who created it, by name, from the uid the spool trusts (never from the JSON).
        record.set("createdBy", UserDatabase.name(ofUser: claimed.submitterID).map(JSONValue.string))
        return record
    }
}
