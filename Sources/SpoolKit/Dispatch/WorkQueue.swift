import Foundation
import SpoolSystem

/// The hand-off between the watcher (which indexes arrivals) and the worker threads (which take
/// the next job). A condition variable, not the cooperative pool: workers block here while idle.
final class WorkQueue: @unchecked Sendable {
    // Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private var index = JobIndex()
    private var runningByType: [String: Int] = [:]
    private var running = 0
    private var stopping = false
    /// While set, `next()` hands out nothing: the spool's storage refuses writes (`StorageGate`).
    private var claimsPaused = false
    private var heldTypes = Set<String>()
    private let concurrencyLimits: [String: Int]

    init(concurrencyLimits: [String: Int]) {
        self.concurrencyLimits = concurrencyLimits
    }

    /// Indexes arrivals and wakes idle workers.
    func add(_ entries: [IndexEntry]) {
        guard !entries.isEmpty else { return }
        condition.lock()
        let now = ProcessInfoLite.now()
        var added = 0
        for entry in entries where index.insert(entry, now: now) { added += 1 }
        if added > 0 { condition.broadcast() }
        condition.unlock()
    }

    func contains(_ id: String) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return index.contains(id)
    }

    /// Blocks until a job may run (respecting per-type limits and backoff times) and returns
    /// it, counted as running; nil once the queue is stopping.
    func next() -> IndexEntry? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if stopping { return nil }
            if claimsPaused {
                condition.wait()
                continue
            }
            let now = ProcessInfoLite.now()
            index.promoteDue(now: now)
            let entry = index.removeNext { type in
                if heldTypes.contains(type) { return false }
                guard let limit = concurrencyLimits[type] else { return true }
                return runningByType[type, default: 0] < limit
            }
            if let entry {
                running += 1
                runningByType[entry.type, default: 0] += 1
                return entry
            }
            if let due = index.nextDueTime {
                _ = condition.wait(until: Date(timeIntervalSince1970: due))
            } else {
                condition.wait()
            }
        }
    }

    /// A worker finished with a job it took from `next()`.
    func finished(_ entry: IndexEntry) {
        condition.lock()
        running -= 1
        runningByType[entry.type, default: 1] -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Jobs indexed (except those of held types, which wait for a release) and jobs running.
    var load: (indexed: Int, running: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (index.count { !heldTypes.contains($0) }, running)
    }

    /// What a drain waits for, among jobs of types not held: how many may run by `horizon`
    /// (seconds since the epoch; ready now, or due by then), how many are due only later, and
    /// the earliest of those later times.
    func outlook(horizon: Double) -> (dueBy: Int, later: Int, earliestLater: Double?) {
        condition.lock()
        defer { condition.unlock() }
        index.promoteDue(now: ProcessInfoLite.now())
        return index.outlook(horizon: horizon) { !heldTypes.contains($0) }
    }

    /// Stops handing out jobs (`next()` waits) until `resumeClaims()`; indexing goes on.
    func pauseClaims() {
        condition.lock()
        claimsPaused = true
        condition.unlock()
    }

    /// Hands out jobs again and wakes idle workers.
    func resumeClaims() {
        condition.lock()
        claimsPaused = false
        condition.broadcast()
        condition.unlock()
    }

    /// Types whose jobs are not started while held (`spool hold --type`).
    func setHeldTypes(_ types: Set<String>) {
        condition.lock()
        heldTypes = types
        condition.broadcast()
        condition.unlock()
    }

    /// Wakes every worker and makes `next()` return nil from now on.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    /// Blocks until no job is running or `deadline` (monotonic seconds) passes; true when idle.
    func waitUntilIdle(deadline: Double) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while running > 0 {
            let remaining = deadline - ProcessInfoLite.monotonicNow()
            if remaining <= 0 { return false }
            _ = condition.wait(until: Date(timeIntervalSinceNow: remaining))
        }
        return true
    }
}
