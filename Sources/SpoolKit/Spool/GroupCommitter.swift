import Foundation

/// One processor's group commit. Worker threads that need files or directories on stable
/// storage call `commit(_:)` and block; a dedicated thread (never the cooperative pool) fsyncs
/// the union of everything asked for before it started, each path once, so many transitions
/// share one flush of `processing/`, `done/` and the rest. Directories changed by steps nobody
/// waits for are noted with `noteChanged(_:)` and flushed with the next group.
///
/// A commit starts at once when the committer is idle; requests that arrive while a flush runs
/// form the next group, which starts when the current flush ends, so a request waits at most
/// two flushes. Lingering for companions (`maximumDelay`) pays only where a flush costs much more
/// than the work between two requests; on the measured machine a flush costs ~0.1-0.4 ms and any
/// linger lowered throughput (docs/PERFORMANCE.md), so it is off unless a delay is given. A caller returns only after a
/// flush that started after its call has succeeded, so nothing is reported before its commit.
final class GroupCommitter: @unchecked Sendable {
    /// The longest a group waits for companions before its flush starts (0: none).
    let maximumDelay: Double
    /// A lingering group is flushed at once when this many requests are pending.
    static let batchSize = 32
    /// The thread exits after this long without requests (and is started again on demand), so
    /// embedding programs that make many processors do not collect idle threads.
    static let idleExit = 1.0

    // Everything below is guarded by `condition`.
    private let condition = NSCondition()
    /// Number of the group that new requests join.
    private var openGroup: UInt64 = 1
    private var pending = 0
    private var pendingPaths = Set<String>()
    private var firstPendingAt = 0.0
    /// Every group up to this number has been flushed (or has failed).
    private var finishedGroup: UInt64 = 0
    private var failures: [UInt64: SystemError] = [:]
    private var threadRunning = false
    /// Flushes done and requests served, for tests and the benchmark.
    private(set) var flushCount = 0
    private(set) var requestCount = 0

    init(maximumDelay: Double = 0) {
        self.maximumDelay = maximumDelay
    }

    /// Notes directories changed by a step that nobody waits for: the next group flushes them.
    func noteChanged(_ paths: [String]) {
        condition.lock()
        pendingPaths.formUnion(paths)
        condition.unlock()
    }

    /// Blocks until `paths` (files and directories), and everything noted before, are durable.
    /// Throws the flush's error (every caller of a failed group gets it: nothing of that group is
    /// known to be durable).
    func commit(_ paths: [String]) throws(SystemError) {
        condition.lock()
        pendingPaths.formUnion(paths)
        let group = openGroup
        if pending == 0 { firstPendingAt = ProcessInfoLite.monotonicNow() }
        pending += 1
        requestCount += 1
        if !threadRunning {
            threadRunning = true
            let thread = Thread { [self] in run() }
            thread.name = "spool-committer"
            thread.start()
        }
        condition.broadcast()
        while finishedGroup < group { condition.wait() }
        let failure = failures[group]
        condition.unlock()
        if let failure { throw failure }
    }

    /// Statistics: (flushes, requests).
    var counts: (flushes: Int, requests: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (flushCount, requestCount)
    }

    private func run() {
        condition.lock()
        while true {
            let idleSince = ProcessInfoLite.monotonicNow()
            while pending == 0 {
                if ProcessInfoLite.monotonicNow() - idleSince >= Self.idleExit {
                    threadRunning = false
                    condition.unlock()
                    return
                }
                _ = condition.wait(until: Date(timeIntervalSinceNow: Self.idleExit))
            }
            // Let companions join, briefly: a flush costs the same for one request or many.
            while pending < Self.batchSize {
                let waited = ProcessInfoLite.monotonicNow() - firstPendingAt
                if waited >= maximumDelay { break }
                _ = condition.wait(until: Date(timeIntervalSinceNow: maximumDelay - waited))
            }
            let group = openGroup
            openGroup += 1
            pending = 0
            let paths = pendingPaths
            pendingPaths.removeAll(keepingCapacity: true)
            condition.unlock()
            var failure: SystemError?
            // Files first, then directories: sorted, a directory's path is a prefix of its files'
            // and would come first, so order by length, longest first.
            for path in paths.sorted(by: { $0.count > $1.count }) {
                do { try FileSystem.syncPath(path) } catch  where error.isNotFound {
                    // Noted, then removed (an emptied batch directory): nothing left to flush.
                } catch {
                    failure = failure ?? error
                }
            }
            condition.lock()
            if let failure { failures[group] = failure }
            // Failures are read by the waiters of that group only; keep the table small.
            failures = failures.filter { $0.key + 1024 > group }
            finishedGroup = group
            flushCount += 1
            condition.broadcast()
        }
    }
}
