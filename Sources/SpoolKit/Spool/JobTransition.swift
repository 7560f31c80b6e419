import SpoolJSON

/// A change of a job's state made by `JobStore.move`: what the core tells the features, which
/// never sit in the job's path (docs/ARCHITECTURE.md).
public struct JobTransition: Sendable {
    public let id: String
    /// The state the move took the job from (as journalled: `processing`, or the state a user's
    /// request took it from).
    public let from: JobState
    public let to: JobState
    /// The record as moved, its `status` set to the target.
    public let record: JobRecord
}

/// A feature that hears of transitions, registered with the store (`JobStore.observers`).
protocol TransitionObserver: Sendable {
    /// Before the rename. What must survive a crash goes here: it runs again if the move is
    /// completed by recovery after a crash, so it must be idempotent.
    func preparing(_ transition: JobTransition, in store: JobStore)
    /// After the move is durable: what may be told once it is known to have happened.
    func completed(_ transition: JobTransition, in store: JobStore)
}

extension TransitionObserver {
    func preparing(_ transition: JobTransition, in store: JobStore) {}
    func completed(_ transition: JobTransition, in store: JobStore) {}
}
