import SpoolJSON
import SpoolSystem
import Synchronization

/// Records a running job's progress in its file, at most every quarter second.
final class ProgressRecorder: Sendable {
    private struct State {
        var record: JobRecord
        var lastWritten = 0.0
        var pending: Int?
        var recordsChanged = false
        /// After the attempt, reports (say from a handler's stray background task) are ignored:
        /// a rewrite then would recreate a record that has left processing/.
        var closed = false
    }

    private let store: JobStore
    private let id: String
    private let state: Mutex<State>
    private let notifications: NotificationSettings?
    /// The running record on its way into processing/: a progress write waits for it.
    private let landing: RecordLanding?
    private let notifierUser: UserAccount?
    static let minimumInterval = 0.25

    init(
        store: JobStore, id: String, record: JobRecord, notifications: NotificationSettings? = nil,
        landing: RecordLanding? = nil, notifierUser: UserAccount? = nil
    ) {
        self.landing = landing
        self.notifierUser = notifierUser
        self.store = store
        self.id = id
        self.state = Mutex(State(record: record))
        self.notifications = notifications
    }

    /// Stops recording and returns the record with the latest progress, for the final write.
    func close() -> JobRecord {
        state.withLock { state in
            state.closed = true
            if let pending = state.pending { state.record.set("progress", JSONValue(pending)) }
            return state.record
        }
    }

    /// A new percentage or record counts, or a flush of what the rate limit held back.
    func report(_ update: ProgressUpdate) {
        // A progress notification is started after the lock is released: spawning takes a while.
        let passedStep: JobRecord? = state.withLock { state -> JobRecord? in
            guard !state.closed else { return nil }
            switch update {
            case .percent(let percent): state.pending = percent
            case .records(let counts):
                state.record.set("records", counts.merged(into: state.record.fields["records"]))
                state.recordsChanged = true
            case .field(let key, let value):
                // Kept for the next progress write or the outcome's: a field alone (the exec
                // handler's cpuSeconds just before the attempt ends) is not worth a rewrite.
                state.record.set(key, value)
            case .flush: break
            }
            guard state.pending != nil || state.recordsChanged else { return nil }
            let now = ProcessInfoLite.monotonicNow()
            guard now - state.lastWritten >= Self.minimumInterval else { return nil }
            var changed = state.recordsChanged
            state.recordsChanged = false
            var notify = false
            if let pending = state.pending, state.record.progress != pending {
                notify = notifications?.passesStep(from: state.record.progress ?? 0, to: pending) ?? false
                state.record.set("progress", JSONValue(pending))
                JobLog.append(store.layout, id: id, .info, "progress \(pending)%")
                changed = true
            }
            state.pending = nil
            guard changed else { return nil }
            state.lastWritten = now
            landing?.waitUntilSettled()
            do { try store.rewriteProcessing(id, state.record) } catch {
                Diagnostics.warn("could not record the progress of job \(id): \(error)")
            }
            return notify ? state.record : nil
        }
        if let passedStep {
            Notifier.notify(
                "progress", settings: notifications, layout: store.layout, id: id, record: passedStep,
                user: notifierUser)
        }
    }
}
