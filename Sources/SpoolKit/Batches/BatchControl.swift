import SpoolSystem

/// Users' requests on parents cascade to their children: cancel and hold reach every unfinished
/// child, retry re-queues only the children that failed or were cancelled.
extension JobStore {
    /// Whether `id` is a parent waiting for its children in `processing/`.
    public func isWaitingParent(_ id: String) -> Bool {
        guard JobID.parent(of: id) == nil, let parent = lockWaitingParent(id) else { return false }
        parent.lock.close()
        return true
    }

    /// Records a cancel on a waiting parent and applies it: queued and held children are
    /// cancelled at once, running ones are asked to stop through `control/`, and the parent
    /// moves to `cancelled/` once none is left. Returns the children still running, or nil when
    /// `id` is not a waiting parent.
    func cancelWaitingParent(_ id: String, _ request: CancelRequest) -> [String]? {
        guard var parent = lockWaitingParent(id) else { return nil }
        if parent.record.fields["cancelledBy"] == nil {
            parent.record.set("cancelledBy", .string(request.requestedBy))
            parent.record.set("cancelledAt", .string(request.requestedAt))
            if let reason = request.reason { parent.record.set("cancelReason", .string(reason)) }
            do { try rewriteProcessing(id, parent.record) } catch {
                parent.lock.close()
                Diagnostics.warn("could not record the cancel of parent job \(id): \(error)")
                return nil
            }
            JobLog.append(layout, id: id, .warning, request.sentence + "; cancelling its unfinished children")
        }
        parent.lock.close()
        settleParent(id)
        return BatchTree(layout: layout, parent: id).children(in: .processing)
    }

    /// Holds (or releases) every queued (or held) child of a waiting parent; returns how many
    /// moved, or nil when `id` is not a waiting parent.
    func changeHoldOfChildren(_ id: String, hold: Bool, by user: String) -> Int? {
        guard isWaitingParent(id) else { return nil }
        let from: JobState = hold ? .queued : .held
        var moved = 0
        for child in BatchTree(layout: layout, parent: id).children(in: from) {
            if (try? (hold ? self.hold(child, by: user) : release(child, by: user))) != nil { moved += 1 }
        }
        JobLog.append(layout, id: id, .info, "\(hold ? "held" : "released") \(moved) child job(s) (by \(user))")
        return moved
    }

    /// Retries a finished parent: it goes back to waiting in `processing/` (its earlier outcome
    /// kept in `history`), and its failed and cancelled children are queued again; children that
    /// succeeded are not run again. Returns the children re-queued.
    func retryParent(_ id: String, from state: JobState, by user: String) throws(SpoolError) -> [String] {
        let tree = BatchTree(layout: layout, parent: id)
        let children = tree.children(in: .failed) + tree.children(in: .cancelled)
        guard !children.isEmpty || state != .done else {
            throw .jobInState(
                id: id, state: state.displayName, reason: "every child of it succeeded; there is nothing to retry")
        }
        // Children first, then the parent: a parent waiting again before all of them are back
        // in queued/ could be settled (and finished) by the rest still being in failed/.
        var requeued: [String] = []
        for child in children.sorted() {
            do {
                try requeue(child, by: user)
                requeued.append(child)
            } catch {
                Diagnostics.warn("could not retry child job \(child): \(error)")
            }
        }
        try reopenParent(id, from: state, by: user)
        JobLog.append(layout, id: id, .info, "retried by \(user): \(requeued.count) child job(s) queued again")
        settleParent(id)
        return requeued
    }

    /// Moves a finished parent back to `processing/` to wait for its children again.
    func reopenParent(_ id: String, from state: JobState, by user: String) throws(SpoolError) {
        guard let taken = try takeWaiting(id, from: state, until: ProcessInfoLite.now() + Self.busyWait) else {
            throw .jobInState(
                id: id, state: (try? locate(id).state.displayName) ?? "gone",
                reason: "it left \(state.rawValue)/ while it was being retried")
        }
        defer { taken.lock.close() }
        var record = taken.record
        record.moveOutcomeToHistory(
            from: state, by: user,
            keys: [
                "finishedAt", "error", "failedChildren", "cancelledChildren", "cancelledAt", "cancelledBy",
                "cancelReason", "result", "progress", "children", "records",
            ])
        record.status = BatchStatus.waitingForChildren
        do { try rewriteProcessing(id, record) } catch { throw .system(error) }
        JobLog.append(
            layout, id: id, .info, "reopened by \(user) (was \(state.rawValue)) → processing/, waiting for children")
    }
}
