/// Hand-off as a listener of transitions: a finished job that came from another spool is
/// packaged to go back there.
struct ReturnObserver: TransitionObserver {
    func completed(_ transition: JobTransition, in store: JobStore) {
        guard transition.to.isTerminal else { return }
        store.packageReturn(transition.id, record: transition.record, state: transition.to)
    }
}
