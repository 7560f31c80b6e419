import SpoolSystem

/// Waits for jobs to finish (done, failed or cancelled), for `spool wait` and `submit --wait`.
/// It sleeps in the kernel between changes: inotify on the finished-state directories (and a
/// child's batch subdirectory there) wakes it, and each wake looks at the directories again,
/// so a lost event costs nothing but a later look. No polling loop.
///
/// A parent finishes when its whole batch has: waiting for it waits for every child.
public final class JobWaiter {
    public let store: JobStore
    public let ids: [String]
    private let inotify: Inotify
    private var watched: Set<String> = []
    /// The finished state of each job seen finished so far.
    public private(set) var finished: [String: JobState] = [:]
    /// Jobs that vanished (purged) while being waited for.
    public private(set) var vanished: Set<String> = []

    /// Fails with `jobNotFound` for an id that names no job.
    public init(store: JobStore, ids: [String]) throws(SpoolError) {
        self.store = store
        self.ids = ids
        for id in ids { _ = try store.locate(id) }
        do { inotify = try Inotify() } catch { throw .system(error) }
    }

    /// Blocks the calling thread until every job has finished or `timeout` seconds pass (nil:
    /// no limit). Returns false on timeout. `progress` is called with (finished, total) on
    /// every change.
    public func wait(timeout: Double?, progress: (Int, Int) -> Void = { _, _ in }) -> Bool {
        let deadline = timeout.map { ProcessInfoLite.monotonicNow() + $0 }
        var lastReported = -1
        while true {
            // Watches before the look: a move after the look still wakes the wait below.
            addWatches()
            look()
            let done = finished.count + vanished.count
            if done != lastReported {
                progress(done, ids.count)
                lastReported = done
            }
            if done == ids.count { return true }
            let remaining = deadline.map { $0 - ProcessInfoLite.monotonicNow() }
            if let remaining, remaining <= 0 { return false }
            _ = inotify.waitForEvents(timeout: remaining)
        }
    }

    private func addWatches() {
        let layout = store.layout
        var directories: [String] = []
        for state in JobState.allCases where state.isTerminal {
            directories.append(layout.directory(state))
            for id in ids where finished[id] == nil {
                if let parent = JobID.parent(of: id) { directories.append(layout.batchDirectory(parent, in: state)) }
            }
        }
        for directory in directories where !watched.contains(directory) {
            let mask = Inotify.jobArrivalMask | Inotify.doNotFollowMask
            if (try? inotify.addWatch(directory, mask: mask)) != nil { watched.insert(directory) }
        }
    }

    private func look() {
        for id in ids where finished[id] == nil && !vanished.contains(id) {
            // A job between two directories (a retry going back to queued/ after queued/ was
            // searched) is briefly in none: look again before calling it gone.
            var state: JobState?
            for _ in 0..<5 where state == nil { state = try? store.locate(id).state }
            guard let state else {
                vanished.insert(id)
                continue
            }
            if state.isTerminal { finished[id] = state }
        }
    }
}
