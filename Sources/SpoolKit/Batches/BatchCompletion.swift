import SpoolJSON
import SpoolSystem

/// A parent held for a rewrite: its record in `processing/` and the flock on that file that
/// serialises everyone who derives it (processors finishing children, users' requests).
struct LockedParent {
    let id: String
    var record: JobRecord
    let lock: FileDescriptor
}

extension JobStore {
    /// Locks a waiting parent's record in `processing/` (blocking: the holders are brief), or
    /// nil when the parent is not waiting there. A rewrite renames a new file over the record,
    /// so the lock is taken again until it holds on the file the name refers to.
    func lockWaitingParent(_ id: String) -> LockedParent? {
        let path = layout.jobPath(id, in: .processing)
        for _ in 0..<20 {
            guard let fd = try? FileSystem.openForReadingSafely(path) else { return nil }
            guard (try? fd.lockExclusive(wait: true, path: path)) == true, let opened = try? fd.status(path: path)
            else {
                fd.close()
                return nil
            }
            guard let current = try? FileSystem.statusNotFollowing(path), current.isSameFile(as: opened) else {
                fd.close()
                continue
            }
            let limit = max(spool.configuration.maximumJobBytes, 64 * 1024 * 1024)
            guard let bytes = try? fd.readAll(limit: limit, path: path),
                let record = try? JobRecord(parsing: bytes, path: layout.relative(path)),
                record.status == BatchStatus.waitingForChildren
            else {
                fd.close()
                return nil
            }
            return LockedParent(id: id, record: record, lock: fd)
        }
        return nil
    }

    /// Re-derives a waiting parent from its children: record counts and children by state in
    /// its record, the cascade its policy or a cancel asks for, and — once no child is queued,
    /// held or running — its move to `done/`, `failed/` or `cancelled/`. Safe to call from any
    /// process at any time, as often as wanted. Returns the state it moved the parent to.
    @discardableResult
    public func settleParent(_ id: String) -> JobState? {
        guard var parent = lockWaitingParent(id) else { return nil }
        defer { parent.lock.close() }
        let tree = BatchTree(layout: layout, parent: id)
        let sizeLimit = max(spool.configuration.maximumJobBytes, 64 * 1024 * 1024)
        let childCount = parent.record.childCount ?? 0
        var progress = tree.progress(childCount: childCount, sizeLimit: sizeLimit, cache: childCounts)
        let policy = parent.record.batch?.onChildFailure ?? .complete
        let cancel = Self.parentCancelRequest(parent.record)
        if progress.unfinished > 0 && (cancel != nil || (policy == .failFast && progress.count(.failed) > 0)) {
            let request =
                cancel
                ?? CancelRequest(
                    jobID: id, requestedBy: processor?.name ?? ProcessInfoLite.userName,
                    requestedAt: Timestamp.now(),
                    reason: "batch job \(progress.children[.failed]!.first!) failed and the parent is failFast")
            cancelUnfinishedChildren(of: id, progress: progress, request: request)
            progress = tree.progress(childCount: childCount, sizeLimit: sizeLimit, cache: childCounts)
        }
        let before = parent.record
        parent.record.set("children", progress.childrenValue)
        parent.record.set("records", progress.recordsValue)
        parent.record.set("progress", JSONValue(progress.percent))
        guard progress.unfinished == 0 else {
            // A large parent is rewritten whole: not when nothing changed.
            guard parent.record != before else { return nil }
            do { try rewriteProcessing(id, parent.record) } catch {
                Diagnostics.warn("could not record the progress of parent job \(id): \(error)")
            }
            return nil
        }
        return complete(&parent, progress: progress, policy: policy, cancel: cancel)
    }

    /// The cancel recorded on a waiting parent by `spool cancel PARENT`, if any.
    static func parentCancelRequest(_ record: JobRecord) -> CancelRequest? {
        guard let by = record.fields["cancelledBy"]?.stringValue else { return nil }
        return CancelRequest(
            jobID: "", requestedBy: by, requestedAt: record.fields["cancelledAt"]?.stringValue ?? "",
            reason: record.fields["cancelReason"]?.stringValue)
    }

    /// Cancels every queued or held child at once, and asks the processors running the others.
    func cancelUnfinishedChildren(of parent: String, progress: BatchProgress, request: CancelRequest) {
        for state in [JobState.queued, .held] {
            for child in progress.children[state] ?? [] {
                let childRequest = request.forJob(child)
                guard let taken = try? take(child, from: state) else { continue }
                do {
                    try settle(taken, to: .cancelled, record: Self.cancelledRecord(taken.record, childRequest))
                    JobLog.append(layout, id: child, .warning, childRequest.sentence + " → cancelled/")
                } catch {
                    Diagnostics.warn("could not cancel child job \(child): \(error)")
                }
            }
        }
        let running = progress.children[.processing] ?? []
        guard !running.isEmpty else { return }
        let alreadyRequested = Set(ControlFiles.cancelRequests(layout: layout).map(\.jobID))
        for child in running where !alreadyRequested.contains(child) {
            do { _ = try ControlFiles.writeCancel(request.forJob(child), layout: layout) } catch {
                Diagnostics.warn("could not request the cancel of child job \(child): \(error)")
            }
        }
    }

    /// Moves a parent whose children have all finished to its final state.
    private func complete(
        _ parent: inout LockedParent, progress: BatchProgress, policy: ChildFailurePolicy, cancel: CancelRequest?
    ) -> JobState? {
        let id = parent.id
        let failed = (progress.children[.failed] ?? []) + progress.missing
        let cancelled = progress.children[.cancelled] ?? []
        var record = parent.record
        let target: JobState
        var summary: String? = nil
        if !progress.missing.isEmpty {
            JobLog.append(
                layout, id: id, .error,
                "child job(s) missing from every state directory, counted as failed: "
                    + progress.missing.joined(separator: ", "))
        }
        if !failed.isEmpty {
            summary = "\(failed.count) out of \(progress.childCount) batch jobs failed"
            if !cancelled.isEmpty { summary! += ", \(cancelled.count) cancelled" }
        } else if !cancelled.isEmpty {
            summary = "\(cancelled.count) out of \(progress.childCount) batch jobs cancelled"
        }
        if let cancel {
            target = .cancelled
            summary = cancel.sentence + (summary.map { "; " + $0 } ?? "")
        } else if !failed.isEmpty && policy != .complete {
            target = .failed
        } else {
            target = .done
        }
        record.set("error", summary.map(JSONValue.string))
        record.set("failedChildren", failed.isEmpty ? nil : .array(failed.map(JSONValue.string)))
        record.set("cancelledChildren", cancelled.isEmpty ? nil : .array(cancelled.map(JSONValue.string)))
        record.set("finishedAt", .string(Timestamp.now()))
        if let manifest = writeResultManifest(id, progress: progress) { record.set("result", .string(manifest)) }
        let level: JobLog.Level = target == .done && summary == nil ? .info : .warning
        JobLog.append(
            layout, id: id, level,
            "all \(progress.childCount) child job(s) finished: \(progress.count(.done)) done, "
                + "\(failed.count) failed, \(cancelled.count) cancelled → \(target.rawValue)/")
        // The emptied batch directories go first, so that whoever sees the parent finished sees
        // no trace of it in the waiting states.
        for state in [JobState.queued, .held, .processing] {
            try? FileSystem.removeDirectory(layout.batchDirectory(id, in: state))
        }
        do {
            return try move(id, to: target, record: record)
        } catch {
            Diagnostics.warn("could not move parent job \(id) to \(target.rawValue)/: \(error)")
            return nil
        }
    }

    /// The parent's result: a manifest of its children's result files in batch order, one
    /// spool-relative path a line (`spool result PARENT` concatenates them).
    private func writeResultManifest(_ id: String, progress: BatchProgress) -> String? {
        var lines: [UInt8] = []
        let children = JobState.allCases.flatMap { progress.children[$0] ?? [] }.sorted()
        for child in children where FileSystem.exists(layout.resultPath(child)) {
            lines += Array((layout.relativeResultPath(child) + "\n").utf8)
        }
        // Written in tmp/, then published like any result: never through a results/ made a link.
        let temporary = layout.temporaryPath("result-" + id)
        do {
            let fd = try FileSystem.createExclusive(temporary)
            defer { fd.close() }
            try fd.writeAll(lines, path: temporary)
            try publishResult(temporary, of: id)
            return layout.relativeResultPath(id)
        } catch {
            Diagnostics.warn("could not write the result manifest of parent job \(id): \(error)")
            return nil
        }
    }

    /// Settles every parent waiting in `processing/` (at start and at every rescan): a processor
    /// that died between a child's last move and its parent's leaves nothing waiting for ever.
    public func settleWaitingParents() {
        for entry in (try? FileSystem.listDirectory(layout.directory(.processing))) ?? [] {
            guard let id = JobID.id(fromFileName: entry.rawName) else { continue }
            settleParent(id)
        }
    }
}

extension CancelRequest {
    /// The same request, applied to another job (a parent's cancel reaching its children).
    func forJob(_ id: String) -> CancelRequest {
        CancelRequest(jobID: id, requestedBy: requestedBy, requestedAt: requestedAt, reason: reason)
    }
}
