import SpoolSystem

/// What becomes of a claimed job whose start failed (`JobRunner.run`).
extension JobRunner {
    /// The job goes back to `queued/` at once, as claimed: its file in `processing/` is still the
    /// one claimed, so one rename (which needs no free space) undoes the claim. When the storage
    /// refused the start's write (a full disk, a quota, a read-only or failing file system),
    /// claiming pauses first, and the job is indexed again at its place for when claiming
    /// resumes. When it cannot be moved, it stays in `processing/` unowned, and recovery puts it
    /// back in `queued/`.
    /// `staging` (the attempt's result file) is removed just before the job goes back.
    func startFailed(_ entry: IndexEntry, _ error: SystemError, removing staging: [String] = []) {
        let refused = StorageGate.refusesWrites(error)
        // Paused first, so that no worker takes the job again before the storage is back.
        if refused { storage?.refused(error) }
        switch store.putBackUnstarted(entry.id, removing: staging) {
        case .putBack:
            if refused, let storage { storage.requeue(entry) }
            Diagnostics.warn("could not start job \(entry.id): \(error); put back in queued/")
        case .gone:
            Diagnostics.warn("could not start job \(entry.id): \(error)")
        case .stays(let reason):
            Diagnostics.warn(
                "could not start job \(entry.id): \(error); it stays in processing/ (\(reason)) until recovery puts "
                    + "it back")
        }
    }
}

/// What became of a job to put back in `queued/` (`JobStore.putBackUnstarted`).
enum PutBackOutcome: Equatable {
    case putBack
    /// It is no longer in `processing/` (recovery moved it first).
    case gone
    /// It could not be moved, for this reason.
    case stays(String)
}

extension JobStore {
    /// Moves a job this processor claimed but did not start from `processing/` back to
    /// `queued/`, unchanged: the record as claimed counts no attempt and names no owner. The
    /// file's own lock is taken first (recovery leaves a locked job alone), and a record that
    /// says this processor started it (a start published after all) is left to recovery.
    /// `staging` (files of the attempt that did not start) is removed under that lock, just
    /// before the rename: a processor killed after it would leave them to no one, and one
    /// killed before it leaves the job in `processing/`, where recovery puts it back.
    func putBackUnstarted(_ id: String, removing staging: [String] = []) -> PutBackOutcome {
        let source = layout.jobPath(id, in: .processing)
        let fd: FileDescriptor
        do {
            fd = try FileSystem.openForReadingSafely(source)
        } catch  where error.isNotFound {
            return .gone
        } catch {
            return .stays(error.description)
        }
        defer { fd.close() }
        guard (try? fd.lockExclusive(path: source)) == true else { return .stays("another process holds it") }
        guard let opened = try? fd.status(path: source), let current = try? FileSystem.statusNotFollowing(source),
            current.isSameFile(as: opened)
        else { return .gone }
        guard let bytes = try? fd.readAll(limit: spool.configuration.maximumJobBytes, path: source),
            var record = try? JobRecord(parsing: bytes, path: layout.relative(source))
        else { return .stays("its record cannot be read") }
        if record.status == "running", let name = processor?.name, record.processorName == name {
            return .stays("its record says it started")
        }
        for path in staging { try? FileSystem.unlinkIfPresent(path) }
        do {
            try renameIntoState(source, to: layout.jobPath(id, in: .queued), id: id)
        } catch  where error.isNotFound {
            return .gone
        } catch {
            return .stays(error.description)
        }
        // Reported to no one: after a power cut that undoes it, recovery puts the job back.
        try? commits.published(in: [layout.directory(.processing), layout.directory(.queued)], acknowledged: false)
        // Journalled (the claim was), but not counted as an ended attempt: none ran. The outcome
        // of an earlier attempt still in the record is not this move's.
        for key in ["durationSeconds", "exitCode", "cpuSeconds", "maxRSS"] { record.set(key, nil) }
        journal.append(JobEvent(id: id, record: record, from: .processing, to: .queued, processor: processor?.name))
        return .putBack
    }
}
