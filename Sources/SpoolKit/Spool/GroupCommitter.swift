import Foundation
import SpoolSystem

/// One processor's group commit. Worker threads that need files or directories on stable
/// storage call `commit(_:)` and block; a dedicated thread (never the cooperative pool) flushes
/// the union of everything asked for before it started, so many transitions share one flush of
/// `processing/`, `done/` and the rest. Directories changed by steps nobody waits for are noted
/// with `noteChanged(_:)` and flushed with the next group.
///
/// A group of several paths is flushed with one syncfs(2) of the spool's file system: on a
/// journalling file system every fsync is a journal commit, so fsyncing a group's files and
/// directories one by one costs as many commits as there are paths, while syncfs costs one
/// (measured in docs/PERFORMANCE.md: ext4 with a journal, 8 workers). Every path the spool
/// flushes is on that one file system, since jobs move between its directories by rename(2),
/// which cannot cross file systems. A group of one path is fsynced alone: syncfs also writes
/// back other programs' dirty data on the same file system, which one fsync need not wait for.
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
    /// The committer thread is waiting for requests (idle, or lingering for companions). Only
    /// then does a request wake anyone: otherwise the condition's waiters are callers waiting
    /// for their flush, and waking them all for every request cost ~30 context switches a job.
    private var committerWaiting = false
    /// Requests made with `commitLater`: run on the committer's thread once their group is flushed.
    private var callbacks: [(group: UInt64, run: @Sendable (SystemError?) -> Void)] = []
    /// Flushes done and requests served, for tests and the benchmark.
    private(set) var flushCount = 0
    private(set) var requestCount = 0
    /// Flushes begun (one more than `flushCount` while a flush runs), for tests.
    private var startedFlushCount = 0

    /// A directory on the spool's file system, open for syncfs (nil: fsync each path).
    private let fileSystemHandle: FileDescriptor?
    private let root: String
    /// Groups flushed with syncfs, for tests and the benchmark.
    private(set) var fileSystemSyncCount = 0

    /// `root` is the spool's directory: groups of several paths are flushed with one syncfs of
    /// its file system. Without it (or when it cannot be opened) each path is fsynced.
    init(maximumDelay: Double = 0, root: String? = nil) {
        self.maximumDelay = maximumDelay
        self.root = root ?? ""
        // Opened once and kept: syncfs reports a writeback error that happened since the last
        // syncfs on the same open file, so a fresh descriptor per group could miss one.
        self.fileSystemHandle = root.flatMap { try? FileSystem.open($0, O_RDONLY | O_DIRECTORY) }
    }

    deinit { fileSystemHandle?.close() }

    /// Notes directories changed by a step that nobody waits for: the next group flushes them.
    func noteChanged(_ paths: [String]) {
        condition.lock()
        pendingPaths.formUnion(paths)
        condition.unlock()
    }

    /// Like `commit(_:)` without blocking: `then` runs on the committer's thread once `paths` are
    /// durable (with nil) or the flush failed (with its error). It must be quick (a rename, a
    /// note): the next group waits for it.
    func commitLater(_ paths: [String], then: @escaping @Sendable (SystemError?) -> Void) {
        condition.lock()
        let group = enqueue(paths)
        callbacks.append((group, then))
        condition.unlock()
    }

    /// Blocks until `paths` (files and directories), and everything noted before, are durable.
    /// Throws the flush's error (every caller of a failed group gets it: nothing of that group is
    /// known to be durable).
    func commit(_ paths: [String]) throws(SystemError) {
        condition.lock()
        let group = enqueue(paths)
        while finishedGroup < group { condition.wait() }
        let failure = failures[group]
        condition.unlock()
        if let failure { throw failure }
    }

    /// Adds a request to the open group and returns that group's number. Called with the lock held.
    private func enqueue(_ paths: [String]) -> UInt64 {
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
        if committerWaiting { condition.broadcast() }
        return group
    }

    /// Flushes begun and flushes ended so far.
    var flushProgress: (started: Int, ended: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (startedFlushCount, flushCount)
    }

    /// Statistics: (flushes, requests, flushes done with one syncfs).
    var counts: (flushes: Int, requests: Int, fileSystemSyncs: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (flushCount, requestCount, fileSystemSyncCount)
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
                committerWaiting = true
                _ = condition.wait(until: Date(timeIntervalSinceNow: Self.idleExit))
                committerWaiting = false
            }
            // Let companions join, briefly: a flush costs the same for one request or many.
            while pending < Self.batchSize {
                let waited = ProcessInfoLite.monotonicNow() - firstPendingAt
                if waited >= maximumDelay { break }
                committerWaiting = true
                _ = condition.wait(until: Date(timeIntervalSinceNow: maximumDelay - waited))
                committerWaiting = false
            }
            let group = openGroup
            openGroup += 1
            startedFlushCount += 1
            pending = 0
            let paths = pendingPaths
            pendingPaths.removeAll(keepingCapacity: true)
            condition.unlock()
            var failure: SystemError?
            var wholeFileSystem = false
            if paths.count > 1, let fileSystemHandle {
                wholeFileSystem = true
                do { try FileSystem.syncFileSystem(fileSystemHandle, covering: Array(paths), root: root) } catch {
                    failure = error
                }
            } else {
                // Files first, then directories: sorted, a directory's path is a prefix of its
                // files' and would come first, so order by length, longest first.
                for path in paths.sorted(by: { $0.count > $1.count }) {
                    do { try FileSystem.syncPath(path) } catch  where error.isNotFound {
                        // Noted, then removed (an emptied batch directory): nothing left to flush.
                    } catch {
                        failure = failure ?? error
                    }
                }
            }
            condition.lock()
            if wholeFileSystem { fileSystemSyncCount += 1 }
            if let failure { failures[group] = failure }
            // Failures are read by the waiters of that group only; keep the table small.
            failures = failures.filter { $0.key + 1024 > group }
            finishedGroup = group
            flushCount += 1
            condition.broadcast()
            if !callbacks.isEmpty {
                // Only those of this group and earlier ones: a request made while this flush ran
                // joined the next group, and its paths are not flushed yet.
                let due = callbacks.filter { $0.group <= group }
                callbacks.removeAll { $0.group <= group }
                condition.unlock()
                for callback in due { callback.run(failure) }
                condition.lock()
            }
        }
    }
}
