import SpoolSystem

/// The processor's side of `control/`: applies cancel requests and held types. Runs on the
/// watcher thread, at start, when `control/` changes, and at every rescan.
struct ControlLoop {
    let store: JobStore
    let queue: WorkQueue
    let running: RunningJobs
    private(set) var heldTypes = Set<String>()

    init(store: JobStore, queue: WorkQueue, running: RunningJobs) {
        self.store = store
        self.queue = queue
        self.running = running
    }

    mutating func apply() {
        let layout = store.layout
        let types = ControlFiles.heldTypes(layout: layout)
        if types != heldTypes {
            for type in types.subtracting(heldTypes).sorted() {
                Diagnostics.info("type \(type) is held: its jobs wait (spool release --type \(type))")
            }
            for type in heldTypes.subtracting(types).sorted() { Diagnostics.info("type \(type) is released") }
            heldTypes = types
            queue.setHeldTypes(types)
        }
        for request in ControlFiles.cancelRequests(layout: layout) { applyCancel(request) }
    }

    /// A request is removed once applied (or moot); one for a job another live processor runs,
    /// or that recovery has yet to bring back, stays for the processor that can apply it.
    private func applyCancel(_ request: CancelRequest) {
        let id = request.jobID
        let state: JobState
        do { state = try store.locate(id).state } catch {
            Diagnostics.warn("cancel request for job \(id): no such job; request removed")
            ControlFiles.remove(request)
            return
        }
        switch state {
        case .queued, .held, .waiting:
            do {
                guard let taken = try store.take(id, from: state) else { return }
                try store.settle(taken, to: .cancelled, record: JobStore.cancelledRecord(taken.record, request))
                JobLog.append(store.layout, id: id, .warning, request.sentence + " → cancelled/")
                store.afterCancel(id, request)
                ControlFiles.remove(request)
            } catch {
                Diagnostics.warn("could not cancel job \(id): \(error)")
            }
        case .processing:
            if !running.requestStop(of: id, .cancel(request)), store.cancelWaitingParent(id, request) != nil {
                // A parent: its children carry the cancel from here.
                ControlFiles.remove(request)
            }
        case .cancelled:
            ControlFiles.remove(request)
        case .done, .failed, .forwarded:
            JobLog.append(store.layout, id: id, .info, "cancel request arrived after the job finished here; ignored")
            ControlFiles.remove(request)
        }
    }
}
