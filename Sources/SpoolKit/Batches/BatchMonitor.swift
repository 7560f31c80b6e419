import SpoolSystem
import Synchronization

/// A processor's side of batches: after a child finishes, its parent is settled at once when
/// that may end it (no child left unfinished, or a failure under `fail`/`failFast`), and
/// otherwise marked for a progress update, written at most every `updateInterval` seconds per
/// parent, and more rarely for large parents: every 2 s per MiB of the parent's file (its list
/// of items is rewritten with it), so the updates cost about the same whatever the size.
final class BatchMonitor: Sendable {
    static let updateInterval = 2.0

    /// Seconds between progress updates of a parent whose file is `bytes` long.
    static func updateInterval(forParentOf bytes: Int) -> Double {
        max(updateInterval, updateInterval * Double(bytes) / (1024 * 1024))
    }

    private let store: JobStore
    /// Parents with children finished since their last update: when each was last updated.
    private let pending = Mutex<[String: Double]>([:])
    private let lastUpdated = Mutex<[String: Double]>([:])

    init(store: JobStore) { self.store = store }

    /// A child of `parent` has moved to `state` (terminal). Runs on the worker that moved it.
    /// The parent is settled at once when this may end it, or when a failFast child failed;
    /// otherwise at the next progress update.
    func childFinished(parent: String, state: JobState, record: JobRecord) {
        let tree = BatchTree(layout: store.layout, parent: parent)
        let failFast = record.fields["onChildFailure"]?.stringValue == ChildFailurePolicy.failFast.rawValue
        if (state != .done && failFast) || !tree.hasUnfinishedChildren() {
            settle(parent)
        } else {
            pending.withLock { $0[parent] = $0[parent] ?? ProcessInfoLite.monotonicNow() }
        }
    }

    /// Whether some parent waits for a progress update.
    var hasPending: Bool { pending.withLock { !$0.isEmpty } }

    /// Updates parents whose last update is older than the interval. Runs on the watcher thread.
    func updateDue() {
        let now = ProcessInfoLite.monotonicNow()
        let due: [String] = pending.withLock { pending in
            let ready = pending.keys.filter { parent in
                let size =
                    (try? FileSystem.statusNotFollowing(store.layout.jobPath(parent, in: .processing)))?.size ?? 0
                return now - (lastUpdated.withLock { $0[parent] } ?? 0) >= Self.updateInterval(forParentOf: size)
            }
            for parent in ready { pending[parent] = nil }
            return ready
        }
        for parent in due { settle(parent) }
    }

    private func settle(_ parent: String) {
        lastUpdated.withLock { $0[parent] = ProcessInfoLite.monotonicNow() }
        if store.settleParent(parent) != nil {
            lastUpdated.withLock { $0[parent] = nil }
            pending.withLock { $0[parent] = nil }
        }
    }
}
