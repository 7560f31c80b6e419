import SpoolSystem
import Synchronization

/// Claiming stops while the spool's storage refuses writes.
///
/// On a full disk (or an exhausted quota, a file system remounted read-only, a failing device)
/// a claim still works, being a rename, but the start that follows cannot write the running
/// record. Claiming on would move the whole queue into `processing/`, job by job, where only
/// recovery could take it back, and only once writes work again. So the first start that fails
/// that way pauses the work queue (its job goes straight back to `queued/`: see `StartFailure`),
/// and the watcher probes the storage with a small write in `tmp/` every `probeInterval`
/// seconds; once one works, the journal reports the lines it lost and claiming resumes.
final class StorageGate: Sendable {
    private struct State {
        /// Monotonic time claiming was paused; nil while claiming goes on.
        var pausedSince: Double?
        var nextProbe = 0.0
        /// What the storage answered, for messages.
        var reason = ""
    }

    private let layout: SpoolLayout
    private let queue: WorkQueue
    private let journal: EventJournal
    private let processorName: String?
    private let state = Mutex(State())

    /// Seconds between probes while paused.
    static let probeInterval = 1.0
    /// What a probe writes (and flushes): about what starting a job writes.
    static let probeBytes = 16 * 1024

    init(layout: SpoolLayout, queue: WorkQueue, journal: EventJournal, processorName: String?) {
        self.layout = layout
        self.queue = queue
        self.journal = journal
        self.processorName = processorName
    }

    /// Whether `error` says the storage refuses writes (rather than something about one job).
    static func refusesWrites(_ error: SystemError) -> Bool {
        ErrnoCode.storageRefusals.contains(error.code)
    }

    /// The storage refused a write: claiming pauses (said once, when it starts).
    func refused(_ error: SystemError) {
        let now = ProcessInfoLite.monotonicNow()
        let pausing = state.withLock { state -> Bool in
            guard state.pausedSince == nil else { return false }
            state.pausedSince = now
            state.nextProbe = now + Self.probeInterval
            state.reason = "\(error.reason) (\(error.codeName))"
            queue.pauseClaims()
            return true
        }
        if pausing { Diagnostics.warn("storage refuses writes (\(error.reason)): claiming paused") }
    }

    /// A job that could not start is back in `queued/`: indexed again at its place.
    func requeue(_ entry: IndexEntry) { queue.add([entry]) }

    /// Seconds until the next probe is due (0 when overdue); nil while claiming goes on.
    func secondsUntilProbe() -> Double? {
        let now = ProcessInfoLite.monotonicNow()
        return state.withLock { state in state.pausedSince.map { _ in max(0, state.nextProbe - now) } }
    }

    /// While paused and a probe is due: writes one, and when the storage takes it, has the
    /// journal report what it lost and resumes claiming. Called by the watcher's loop.
    func probeIfDue() {
        let now = ProcessInfoLite.monotonicNow()
        guard state.withLock({ $0.pausedSince != nil && now >= $0.nextProbe }) else { return }
        guard storageTakesWrites() else {
            state.withLock { $0.nextProbe = ProcessInfoLite.monotonicNow() + Self.probeInterval }
            return
        }
        journal.reportLosses(processor: processorName)
        let pausedSince = state.withLock { state -> Double? in
            defer { state.pausedSince = nil }
            queue.resumeClaims()
            return state.pausedSince
        }
        let seconds = pausedSince.map { JobRunner.seconds(ProcessInfoLite.monotonicNow() - $0) } ?? "?"
        Diagnostics.info("storage accepts writes again: claiming resumed (paused for \(seconds))")
    }

    /// What the storage answered, when claiming has been paused for `seconds` or longer.
    func refusal(pausedFor seconds: Double) -> String? {
        let now = ProcessInfoLite.monotonicNow()
        return state.withLock { state in
            guard let since = state.pausedSince, now - since >= seconds else { return nil }
            return state.reason
        }
    }

    /// Writes, flushes and removes a small file in `tmp/`.
    private func storageTakesWrites() -> Bool {
        let path = layout.temporaryPath("probe")
        defer { try? FileSystem.unlinkIfPresent(path) }
        do throws(SystemError) {
            let fd = try FileSystem.createExclusive(path, mode: 0o600)
            defer { fd.close() }
            try fd.writeAll([UInt8](repeating: 0, count: Self.probeBytes), path: path)
            try fd.sync(path: path)
            return true
        } catch {
            return false
        }
    }
}
