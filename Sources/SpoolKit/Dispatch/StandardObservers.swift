extension JobStore {
    /// The features every store tells of its moves, whoever makes them (a processor, or a
    /// user's command): dependencies, then hand-off returns.
    static let standardObservers: [any TransitionObserver] = [DependencyObserver(), ReturnObserver()]
}
