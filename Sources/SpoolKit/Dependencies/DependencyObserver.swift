/// Dependencies as a listener of transitions: a finished job makes the jobs its rules create
/// (before the rename, so a crash cannot lose them), and releases the jobs waiting for it.
struct DependencyObserver: TransitionObserver {
    func preparing(_ transition: JobTransition, in store: JobStore) {
        guard transition.to == .done || transition.to == .failed else { return }
        store.createDependents(of: transition.id, record: transition.record, state: transition.to)
    }

    func completed(_ transition: JobTransition, in store: JobStore) {
        guard transition.to.isTerminal else { return }
        store.releaseWaiters(of: transition.id)
    }
}
