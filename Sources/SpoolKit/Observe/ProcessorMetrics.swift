import SpoolSystem
import Synchronization

/// Counters of the transitions one process made, for the Prometheus metrics file: ended
/// attempts by type and outcome, and a histogram of their run time per type. Counters start at
/// zero with the process, as Prometheus counters do.
public final class ProcessorMetrics: Sendable {
    /// Upper bounds (seconds) of the duration histogram's buckets; `+Inf` is added on output.
    public static let durationBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

    public struct Histogram: Sendable, Equatable {
        /// Observations at or below each bound of `durationBounds` (not cumulative).
        public var buckets = [Int](repeating: 0, count: ProcessorMetrics.durationBounds.count + 1)
        public var sum = 0.0
        public var count = 0
    }

    public struct Snapshot: Sendable, Equatable {
        /// Ended attempts by type, then outcome (`done`, `failed`, `cancelled`, `retried`).
        public var transitions: [String: [String: Int]] = [:]
        public var durations: [String: Histogram] = [:]
    }

    private let state = Mutex(Snapshot())

    public init() {}

    /// Counts an event if it ends an attempt (a move out of `processing/`).
    func record(_ event: JobEvent) {
        guard event.from == JobState.processing.rawValue, event.to != JobState.processing.rawValue else { return }
        let outcome =
            switch event.to {
            case "done", "failed", "cancelled": event.to
            case "queued": "retried"
            default: event.to  // waiting/ (a job parked for its dependencies)
            }
        state.withLock { snapshot in
            snapshot.transitions[event.type, default: [:]][outcome, default: 0] += 1
            guard let duration = event.duration else { return }
            let index = Self.durationBounds.firstIndex { duration <= $0 } ?? Self.durationBounds.count
            snapshot.durations[event.type, default: Histogram()].buckets[index] += 1
            snapshot.durations[event.type, default: Histogram()].sum += duration
            snapshot.durations[event.type, default: Histogram()].count += 1
        }
    }

    public var snapshot: Snapshot { state.withLock { $0 } }
}
