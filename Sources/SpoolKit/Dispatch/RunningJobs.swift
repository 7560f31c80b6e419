import SpoolSystem
import Synchronization

/// The jobs this processor is running, so that a shutdown can ask each to stop.
final class RunningJobs: Sendable {
    private struct State {
        var contexts: [String: HandlerContext] = [:]
        /// Once set, applies to jobs registered later too (a job can start just after a stop).
        var stopRequest: StopRequest?
    }

    private let state = Mutex(State())

    func register(_ id: String, _ context: HandlerContext) {
        let request = state.withLock { state in
            state.contexts[id] = context
            return state.stopRequest
        }
        if let request { context.requestStop(request) }
    }

    /// The ids of the jobs running now.
    var ids: Set<String> { state.withLock { Set($0.contexts.keys) } }

    func unregister(_ id: String) { _ = state.withLock { $0.contexts.removeValue(forKey: id) } }

    /// Asks the job with this id to stop, if it runs here; true when it does.
    func requestStop(of id: String, _ request: StopRequest) -> Bool {
        guard let context = state.withLock({ $0.contexts[id] }) else { return false }
        context.requestStop(request)
        return true
    }

    func requestStopOfAll(_ request: StopRequest) {
        let all = state.withLock { state in
            state.stopRequest = request
            return Array(state.contexts.values)
        }
        for context in all { context.requestStop(request) }
    }
}
