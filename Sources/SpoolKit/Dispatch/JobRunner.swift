import Foundation
import SpoolJSON
import SpoolSystem

/// Runs one queued job through its whole attempt: claim, start, handler, outcome, move.
/// It runs on a worker thread and may block.
final class JobRunner: Sendable {
    let store: JobStore
    let handlers: [String: any JobHandler]
    let backoff: Backoff
    let running: RunningJobs
    let summary: Locked<RunSummary>
    let batches: BatchMonitor
    /// Tells the forwarder that an outbox has something to send.
    let wakeForwarder: @Sendable () -> Void
    /// What keeps each job's processes inside the job (nil: process groups only).
    let containment: JobContainment?
    /// Where finishes go under group commit, so that the worker starts the next job while this
    /// one waits for its commit (nil: the worker finishes each job itself).
    let finishing: FinishingPool?
    /// The account each type's handler switches to (a root processor): its notifiers run as it too.
    let users: [String: UserAccount]
    /// Pauses claiming while the storage refuses writes (see `startFailed`); nil: never paused.
    let storage: StorageGate?

    init(
        store: JobStore, handlers: [String: any JobHandler], running: RunningJobs, summary: Locked<RunSummary>,
        batches: BatchMonitor, finishing: FinishingPool? = nil, users: [String: UserAccount] = [:],
        containment: JobContainment? = nil, storage: StorageGate? = nil,
        wakeForwarder: @escaping @Sendable () -> Void = {}
    ) {
        self.containment = containment
        self.users = users
        self.storage = storage
        self.wakeForwarder = wakeForwarder
        self.finishing = finishing
        self.store = store
        self.batches = batches
        self.handlers = handlers
        let configuration = store.spool.configuration
        self.backoff = Backoff(base: configuration.backoffBase, maximum: configuration.backoffMaximum)
        self.running = running
        self.summary = summary
    }

    private var layout: SpoolLayout { store.layout }

    /// Runs the job of `entry`; calls `release` once the job has left this processor's hands
    /// (possibly later, on a finishing thread, when the finish was handed over).
    func run(_ entry: IndexEntry, release: @escaping @Sendable () -> Void) {
        var handedOver = false
        defer { if !handedOver { release() } }
        let claimed: ClaimedJob
        switch store.claim(entry.id) {
        case .gone: return
        case .rejected:
            summary.withLock { $0.rejected += 1 }
            return
        case .claimed(let job): claimed = job
        }
        // A job whose dependencies have not finished waits for them in waiting/.
        if !claimed.record.dependencies.isEmpty, store.parkIfWaiting(claimed) { return }
        // A routed job (a parent too, whole) goes to another spool instead of running here.
        if let route = store.spool.configuration.route(for: claimed.record) {
            store.forward(claimed, via: route)
            summary.withLock { $0.forwarded += 1 }
            wakeForwarder()
            return
        }
        // A parent is never run by a handler: it is split into its children.
        if claimed.record.isParent {
            store.split(claimed)
            return
        }
        let id = claimed.id
        // The attempt's result file, created and locked before the start: from here until the job
        // has moved on, its lock says that the claim is alive (docs/FORMAT.md, section 6). This
        // processor holds it, and so does every process of the job, as its standard output.
        let resultTemporary = layout.temporaryPath("result-" + id)
        let resultOutput: FileDescriptor
        do throws(SystemError) {
            resultOutput = try FileSystem.createExclusive(resultTemporary)
            do throws(SystemError) {
                // Not started without it: a claim whose processes hold no lock looks dead.
                if try !resultOutput.lockExclusive(path: resultTemporary) {
                    throw SystemError("lock", path: resultTemporary, code: EWOULDBLOCK)
                }
            } catch {
                resultOutput.close()
                try? FileSystem.unlinkIfPresent(resultTemporary)
                throw error
            }
        } catch {
            claimed.claimLock.close()
            startFailed(entry, error)
            return
        }
        let record: JobRecord
        var landing: RecordLanding?
        var recordInput: FileDescriptor?
        do throws(SystemError) {
            if finishing != nil, let committer = store.commits.groupCommitter {
                let started = try store.beginLanding(claimed, committer: committer)
                (record, landing, recordInput) = (started.record, started.landing, started.input)
            } else {
                record = try store.begin(claimed)
            }
        } catch {
            // Never started: back in queued/ at once (StartFailure.swift), the result file's lock
            // keeping recovery away meanwhile. The result file goes before the job does, under
            // the claimed file's lock: once the job is back in queued/, nothing would remove it.
            startFailed(entry, error, removing: [resultTemporary])
            resultOutput.close()
            try? FileSystem.unlinkIfPresent(resultTemporary)
            return
        }
        defer { recordInput?.close() }
        let configuration = store.spool.configuration
        let handlerConfiguration = configuration.handlers[record.type]
        guard let handler = handlers[record.type] else {
            try? FileSystem.unlinkIfPresent(resultTemporary)
            finish(
                id, record, .failure(reason: "no handler for type \"\(record.type)\"", exitCode: nil, signal: nil),
                resultPath: nil, started: ProcessInfoLite.monotonicNow(), landing: landing,
                releaseClaim: { resultOutput.close() })
            return
        }
        let notifications = handlerConfiguration?.notifications
        let notifierUser = users[record.type]
        if let landing, notifications?.commands["start"] != nil {
            // Announced once the start is committed (like every report), on a thread of its own:
            // the committer settles the landing and must not wait for a notifier.
            let layout = layout
            landing.afterSettling {
                Thread {
                    Notifier.notify(
                        "start", settings: notifications, layout: layout, id: id, record: record, user: notifierUser)
                }
                .start()
            }
        } else {
            Notifier.notify(
                "start", settings: notifications, layout: layout, id: id, record: record, user: notifierUser)
        }
        let progress = ProgressRecorder(
            store: store, id: id, record: record, notifications: notifications, landing: landing,
            notifierUser: notifierUser)
        let enclosure = containment?.enclose(id)
        let context = HandlerContext(
            resultOutput: resultOutput, resultTemporaryPath: resultTemporary, killGrace: configuration.killGrace,
            layout: layout, id: id, processTies: enclosure?.ties ?? JobProcessTies(), recordInput: recordInput,
            progressSink: { progress.report($0) })
        let timeout = Self.effectiveTimeout(job: record.timeout, handler: handlerConfiguration?.timeout)
        let invocation = HandlerInvocation(
            id: id, type: record.type, attempt: record.attempts, record: record,
            recordPath: layout.jobPath(id, in: .processing), resultPath: layout.resultPath(id), timeout: timeout,
            limits: (handlerConfiguration?.limits ?? ResourceLimits()).lowered(by: record.limits),
            ownerID: record.ownerUID ?? claimed.ownerID)
        JobLog.append(
            layout, id: id, .info,
            "claimed by processor \(store.processor?.name ?? "?"); attempt \(record.attempts) started (type \(record.type))"
        )
        let started = ProcessInfoLite.monotonicNow()
        running.register(id, context)
        let result = handler.run(invocation, context: context)
        running.unregister(id)
        // Nothing of the job outlives it: what its handler left running goes now.
        if let enclosure { containment?.release(enclosure, runningJobs: running.ids) }
        let finalRecord = progress.close()
        // The claim stays alive (the result file locked) until the job has left processing/.
        let releaseClaim: @Sendable () -> Void = {
            resultOutput.close()
            context.releaseReplacedResult()
        }
        if let finishing {
            handedOver = true
            finishing.submit { [self, landing] in
                finish(
                    id, finalRecord, result, resultPath: resultTemporary, started: started, landing: landing,
                    releaseClaim: releaseClaim)
                release()
            }
            return
        }
        finish(
            id, finalRecord, result, resultPath: resultTemporary, started: started, landing: landing,
            releaseClaim: releaseClaim)
    }

    /// A job's own timeout may only lower its type's.
    static func effectiveTimeout(job: Double?, handler: Double?) -> Double? {
        switch (job, handler) {
        case (let job?, let handler?): return min(job, handler)
        case (let job?, nil): return job
        case (nil, let handler): return handler
        }
    }

    /// Records the outcome and moves the job: done, failed, or back to queued for a retry.
    private func finish(
        _ id: String, _ record: JobRecord, _ result: HandlerResult, resultPath: String?, started: Double,
        landing: RecordLanding? = nil, releaseClaim: @Sendable () -> Void
    ) {
        // Released on every path, after the move (or after giving up on it: recovery then settles
        // the job once this processor has exited).
        defer { releaseClaim() }
        // The running record lands before the outcome's replaces it (never the other way round).
        landing?.waitUntilSettled()
        var record = record
        let configuration = store.spool.configuration
        let handlerConfiguration = configuration.handlers[record.type]
        let backoff = handlerConfiguration?.backoff ?? self.backoff
        let maximumAttempts = record.maximumAttempts ?? handlerConfiguration?.maximumAttempts ?? 3
        let now = ProcessInfoLite.now()
        let duration = ProcessInfoLite.monotonicNow() - started
        record.set("finishedAt", .string(Timestamp.format(now)))
        record.set("durationSeconds", JSONValue(Double(Int(duration * 1000)) / 1000))

        var target: JobState
        var logLevel = JobLog.Level.info
        var message: String
        switch result {
        case .success:
            target = .done
            record.set("exitCode", JSONValue(0))
            record.set("progress", JSONValue(100))
            message = "done in \(Self.seconds(duration))"
        case .temporaryFailure(let reason):
            record.deferredAttempts += 1
            record.set("exitCode", JSONValue(75))
            if record.deferredAttempts > configuration.maximumDeferrals {
                target = .failed
                record.set("error", .string("\(reason); gave up after \(record.deferredAttempts) temporary failures"))
            } else {
                target = .queued
                let delay = backoff.delay(afterAttempt: record.deferredAttempts)
                record.set("notBefore", .string(Timestamp.format(now + delay)))
                record.set("error", .string("\(reason); will retry in \(Self.seconds(delay))"))
            }
            logLevel = .warning
            message = record.error ?? reason
        case .failure, .timedOut:
            let reason: String
            switch result {
            case .failure(let text, let exitCode, let signal):
                // The handler's own words first, when it said what went wrong (`error` on fd 3).
                if let reported = record.fields[Self.reportedErrorField]?.objectValue,
                    let message = reported["message"]?.stringValue
                {
                    reason = message + " (" + text + ")"
                    record.set("errorSeverity", reported["severity"] ?? .string("high"))
                } else {
                    reason = text
                }
                if let exitCode { record.set("exitCode", JSONValue(Int(exitCode))) }
                if let signal { record.set("signal", .string(Signals.name(of: signal))) }
            case .timedOut(let limit):
                reason = "timed out after \(Self.seconds(limit))"
            default:
                reason = ""
            }
            let permanentCodes =
                handlerConfiguration?.permanentExitCodes ?? HandlerConfiguration.defaultPermanentExitCodes
            if case .failure(_, let exitCode?, _) = result, permanentCodes.contains(exitCode) {
                target = .failed
                record.set("error", .string(reason + " (a permanent failure: not retried)"))
            } else if record.countedAttempts >= maximumAttempts {
                target = .failed
                let suffix = maximumAttempts > 1 ? " (attempt \(record.countedAttempts) of \(maximumAttempts))" : ""
                record.set("error", .string(reason + suffix))
            } else {
                target = .queued
                let delay = backoff.delay(afterAttempt: record.countedAttempts)
                record.set("notBefore", .string(Timestamp.format(now + delay)))
                record.set(
                    "error",
                    .string(
                        "\(reason) (attempt \(record.countedAttempts) of \(maximumAttempts)); "
                            + "will retry in \(Self.seconds(delay))"))
            }
            logLevel = target == .failed ? .error : .warning
            message = record.error ?? reason
        case .cancelled(let request):
            target = .cancelled
            record.set("cancelledAt", .string(Timestamp.format(now)))
            record.set("cancelledBy", .string(request.requestedBy))
            record.set("error", .string(request.sentence))
            logLevel = .warning
            message = request.sentence + " while running"
        case .interrupted:
            record.deferredAttempts += 1
            target = .queued
            record.set("error", .string("interrupted by the shutdown of processor \(store.processor?.name ?? "?")"))
            logLevel = .warning
            message = record.error ?? "interrupted"
        }

        // The handler's account serves the outcome only; the record keeps `error`.
        record.set(Self.reportedErrorField, nil)
        // A result that could not be published, kept out of the staging names once the job has
        // moved on (its lock, the claim's, is held until then).
        var unpublishedResult: String?
        if let resultPath {
            if target.isTerminal && FileSystem.exists(layout.jobPath(id, in: target)) {
                // The move will clash with a job of the same id there: keep that job's result.
                try? FileSystem.unlinkIfPresent(resultPath)
            } else if target.isTerminal {
                do {
                    try store.commits.stage([resultPath], replacesAcknowledged: false)
                    try store.publishResult(resultPath, of: id)
                    // The final move's commit makes the result durable before the job is done.
                    try store.commits.published(
                        in: [layout.resultPath(id), FileSystem.directoryName(of: layout.resultPath(id))],
                        acknowledged: false)
                    record.set("result", .string(layout.relativeResultPath(id)))
                } catch {
                    Diagnostics.warn("could not publish the result of job \(id): \(error)")
                    unpublishedResult = resultPath
                }
            } else {
                try? FileSystem.unlinkIfPresent(resultPath)
            }
        }
        // A job's work directory (a report's partial output) serves its next attempt only.
        if target.isTerminal { FileSystem.removeShallowTree(layout.workDirectory(id)) }
        // A job going back to the queue belongs to no processor until the next claim.
        if target == .queued { record.set("processor", nil) }
        do {
            let final = try moveRetrying(id, to: target, record: record)
            // Still locked by this processor, so no recovery pass has taken it for abandoned.
            if let unpublishedResult { store.keepUnpublishedResult(unpublishedResult) }
            // Logged once moved (and committed, in durable mode): a log never says "done" of a
            // job that a crash then recovers.
            JobLog.append(layout, id: id, logLevel, message + " → \(final.rawValue)/")
            // Gone from processing/: a claim lock still held (a start that never landed) has done
            // its work. When the move failed it stays held, so recovery waits for this processor.
            landing?.jobLeftProcessing()
            if case .cancelled(let request) = result, final == .cancelled { ControlFiles.remove(request) }
            if final.isTerminal {
                Notifier.notify(
                    final.rawValue, settings: configuration.handlers[record.type]?.notifications, layout: layout,
                    id: id,
                    record: record, user: users[record.type])
            }
            if final.isTerminal, let parent = JobID.parent(of: id) {
                batches.childFinished(parent: parent, state: final, record: record)
            }
            summary.withLock { summary in
                switch final {
                case .cancelled: summary.cancelled += 1
                case .done: summary.done += 1
                case .failed: summary.failed += 1
                case .queued:
                    if case .interrupted = result { summary.interrupted += 1 } else { summary.retried += 1 }
                default: break
                }
            }
        } catch {
            Diagnostics.warn(
                "could not move job \(id) to \(target.rawValue)/: \(error); it stays in processing/ until this "
                    + "processor exits, then recovery settles it")
        }
    }

    /// The final move, retried a few times over about half a minute: a full disk or a passing
    /// I/O error must not leave the job in processing/ for the rest of this processor's life
    /// (recovery leaves a live processor's jobs alone).
    private func moveRetrying(_ id: String, to target: JobState, record: JobRecord) throws(SystemError) -> JobState {
        var delay = 0.5
        for attempt in 1...6 {
            do {
                return try store.move(id, to: target, record: record)
            } catch {
                if attempt == 6 { throw error }
                Diagnostics.warn("could not move job \(id) to \(target.rawValue)/: \(error); retrying in \(delay) s")
                ProcessInfoLite.sleep(seconds: delay)
                delay *= 2
            }
        }
        throw SystemError("move", path: layout.jobPath(id, in: .processing), code: ErrnoCode.tryAgain)
    }

    /// Where a handler's `error` line waits in the record until the attempt's outcome.
    static let reportedErrorField = "reportedError"

    static func seconds(_ value: Double) -> String {
        if value >= 10 || value == value.rounded() { return "\(Int(value.rounded())) s" }
        return "\(Double(Int(value * 1000)) / 1000) s"
    }
}
