import Foundation
import SpoolSystem
import Synchronization

/// The long-running processor, `spool run`: watches `queued/`, keeps the dispatch index, and
/// runs jobs on a pool of worker threads until stopped (or, when draining, until nothing is
/// queued or running).
public final class SpoolProcessor: Sendable {
    public struct Options: Sendable {
        /// Worker threads: jobs run at once.
        public var workers: Int
        /// Exit once nothing is running and no queued job is due within `drainWait` seconds.
        public var drain = false
        /// With `drain`: how far ahead (seconds) a drain waits for queued jobs that are not due
        /// yet (a retry's backoff, a `notBefore`); later ones are left in `queued/`. Also how long
        /// it waits for storage that refuses writes before giving up.
        public var drainWait = 60.0
        /// Poll every this many seconds instead of using inotify (NFS); nil: inotify.
        public var pollInterval: Double?
        /// Where to keep a Prometheus metrics file, rewritten every `metricsInterval` seconds and
        /// at exit; nil: `metricsFile` of spool.json, if any.
        public var metricsFile: String?
        /// Lets a processor running as root run handlers that have no `user` as root
        /// (`--allow-root-handlers`); otherwise it refuses to start (see `HandlerUsers`).
        public var allowRootHandlers = false

        public init(
            workers: Int, drain: Bool = false, drainWait: Double = 60, pollInterval: Double? = nil,
            metricsFile: String? = nil, allowRootHandlers: Bool = false
        ) {
            self.workers = workers
            self.drain = drain
            self.drainWait = drainWait
            self.pollInterval = pollInterval
            self.metricsFile = metricsFile
            self.allowRootHandlers = allowRootHandlers
        }
    }

    public let spool: Spool
    public let options: Options
    private let inProcessHandlers: [String: any JobHandler]
    private let stopRequested = Atomic<Bool>(false)
    private let wakeHook = Mutex<(@Sendable () -> Void)?>(nil)

    /// `handlers` adds in-process handlers by type (for programs that embed SpoolKit); they take
    /// precedence over spool.json.
    public init(spool: Spool, options: Options, handlers: [String: any JobHandler] = [:]) {
        self.spool = spool
        self.options = options
        self.inProcessHandlers = handlers
    }

    /// Asks the processor to stop: no new claims, running jobs get `shutdownGrace` seconds,
    /// then are stopped and put back in `queued/`. Safe from any thread.
    public func requestStop() {
        stopRequested.store(true, ordering: .sequentiallyConsistent)
        wakeHook.withLock { $0 }?()
    }

    /// Who runs each handler type under this process (its euid), or the configuration error that
    /// refuses the start (a handler without a `user` under root, a `user` a non-root processor
    /// cannot switch to). `run()` checks this first; call it to fail before announcing a start.
    public func handlerUsers() throws(SpoolError) -> HandlerUsers {
        try HandlerUsers(
            configuration: spool.configuration, path: spool.layout.configurationPath,
            processorUID: UserDatabase.effectiveUserID, allowRootHandlers: options.allowRootHandlers,
            inProcessTypes: Set(inProcessHandlers.keys))
    }

    /// Runs until stopped (or drained). Blocks the calling thread, which becomes the watcher.
    public func run() throws(SpoolError) -> RunSummary {
        let layout = spool.layout
        let configuration = spool.configuration
        let began = ProcessInfoLite.monotonicNow()
        // Who runs each handler: checked before anything in the spool changes.
        let users = try handlerUsers()
        let identity = try ProcessorIdentity(layout: layout)
        defer { identity.release() }
        let store = JobStore(spool: spool, processor: identity, inProcessTypes: Set(inProcessHandlers.keys))
        let summary = Locked(RunSummary())
        let running = RunningJobs()
        let handlers = try buildHandlers(root: layout.root, users: users)
        let batches = BatchMonitor(store: store)
        let forwarder =
            configuration.routes.isEmpty ? nil : RouteForwarder(store: store, processorName: identity.name)
        forwarder?.start()
        store.outboxFilled.withLock { $0 = { forwarder?.wake() } }
        defer { forwarder?.stop() }
        let workerCount = max(1, options.workers)
        let finishing = store.commits.groupCommitter != nil ? FinishingPool.forWorkers(workerCount) : nil
        defer { finishing?.stop() }
        let containment = JobContainment.start(layout: layout, processorName: identity.name)
        defer { containment.stop() }
        let limits = configuration.handlers.compactMapValues(\.concurrency)
        let queue = WorkQueue(concurrencyLimits: limits)
        let storage = StorageGate(layout: layout, queue: queue, journal: store.journal, processorName: identity.name)
        let runner = JobRunner(
            store: store, handlers: handlers, running: running, summary: summary, batches: batches,
            finishing: finishing, users: users.switching, containment: containment, storage: storage,
            wakeForwarder: { forwarder?.wake() })
        let watcher = try QueueWatcher(
            directory: layout.directory(.queued), controlDirectory: layout.controlDirectory,
            returnsDirectory: layout.returnsDirectory,
            useInotify: options.pollInterval == nil)
        wakeHook.withLock { $0 = { [watcher] in watcher.wake() } }
        defer { wakeHook.withLock { $0 = nil } }

        let staleTemporaries = store.removeStaleTemporaries()
        if staleTemporaries > 0 { Diagnostics.info("removed \(staleTemporaries) stale file(s) from tmp/") }
        let recovered = store.recoverOrphans()
        if !recovered.moved.isEmpty {
            summary.withLock { $0.recovered += recovered.moved.count }
            Diagnostics.info("recovered \(recovered.moved.count) job(s) left in processing/ by stopped processors")
        }
        settleParents(of: recovered, store)
        store.settleWaitingParents()
        store.settleAllWaiters()
        let returnedAtStart = store.applyReturns()
        summary.withLock { $0.returned += returnedAtStart }
        let schedules = ScheduleRunner(store: store)
        if !schedules.schedules.isEmpty { schedules.fireDue() }
        var nextSchedule = schedules.nextDue(after: ProcessInfoLite.now())
        if recovered.awaitingOrphanedHandlers > 0 {
            Diagnostics.info(
                "\(recovered.awaitingOrphanedHandlers) job(s) of a stopped processor still have running handlers; "
                    + "they will be recovered when those end")
        }

        let finishedWorkers = DispatchGroup()
        for number in 0..<workerCount {
            finishedWorkers.enter()
            let thread = Thread {
                while let entry = queue.next() {
                    runner.run(entry) { queue.finished(entry) }
                }
                finishedWorkers.leave()
            }
            thread.name = "spool-worker-\(number)"
            thread.start()
        }

        applyRetention(store)
        var control = ControlLoop(store: store, queue: queue, running: running)
        control.apply()
        var intake = IntakeLoop(store: store, queue: queue, summary: summary)
        let scanStarted = ProcessInfoLite.monotonicNow()
        let indexedAtStart = intake.examineAll(watcher) { !stopRequested.load(ordering: .sequentiallyConsistent) }
        let scanSeconds = ProcessInfoLite.monotonicNow() - scanStarted
        if scanSeconds >= 1 || indexedAtStart >= 10_000 {
            // A long first look (a large backlog): say when it ended, as dispatch began long before.
            Diagnostics.info(
                "indexed \(indexedAtStart) queued job(s) in \(JobRunner.seconds(scanSeconds)) (dispatch began at once)")
        }
        let rescanInterval = options.pollInterval ?? configuration.rescanInterval
        var nextRescan = ProcessInfoLite.monotonicNow() + rescanInterval
        let metricsFile = (options.metricsFile ?? configuration.metricsFile).map {
            MetricsFile(path: $0.hasPrefix("/") ? $0 : layout.root + "/" + $0, layout: layout)
        }
        var nextMetrics = ProcessInfoLite.monotonicNow()
        func writeMetrics() {
            metricsFile?.write(
                metrics: store.metrics, listing: JobListing(spool: spool), workers: workerCount,
                busy: queue.load.running)
            nextMetrics = ProcessInfoLite.monotonicNow() + configuration.metricsInterval
        }
        // Under systemd (Type=notify): ready now, then a status line and watchdog pings.
        let systemd = SystemdNotify()
        let systemdInterval = min(systemd?.watchdogInterval ?? 5, 5)
        var nextSystemd = ProcessInfoLite.monotonicNow() + systemdInterval
        func systemdStatus() -> String {
            let load = queue.load
            return "STATUS=\(load.running) running, \(load.indexed) queued"
        }
        systemd?.send(["READY=1", systemdStatus()])

        while !stopRequested.load(ordering: .sequentiallyConsistent) {
            let now = ProcessInfoLite.monotonicNow()
            var timeout = max(0, nextRescan - now)
            if intake.hasUnsettled { timeout = min(timeout, 0.5) }
            if options.drain { timeout = min(timeout, 0.05) }
            if let probe = storage.secondsUntilProbe() { timeout = min(timeout, probe) }
            if batches.hasPending { timeout = min(timeout, BatchMonitor.updateInterval / 2) }
            if let nextSchedule { timeout = min(timeout, max(0, nextSchedule - ProcessInfoLite.now()) + 0.001) }
            if metricsFile != nil {
                if now >= nextMetrics { writeMetrics() }
                timeout = min(timeout, max(0, nextMetrics - now))
            }
            if let systemd {
                if now >= nextSystemd {
                    systemd.send([systemdStatus()] + (systemd.watchdogInterval == nil ? [] : ["WATCHDOG=1"]))
                    nextSystemd = now + systemdInterval
                }
                timeout = min(timeout, max(0, nextSystemd - now))
            }
            let changes = watcher.waitForChanges(timeout: timeout)
            if stopRequested.load(ordering: .sequentiallyConsistent) { break }
            storage.probeIfDue()
            intake.examine(changes.names)
            intake.retryUnsettled()
            if changes.controlChanged { control.apply() }
            if changes.returnsChanged {
                let returned = store.applyReturns()
                summary.withLock { $0.returned += returned }
            }
            batches.updateDue()
            if let due = nextSchedule, ProcessInfoLite.now() >= due {
                schedules.fireDue()
                nextSchedule = schedules.nextDue(after: ProcessInfoLite.now())
            }
            var rescan = changes.needsRescan || ProcessInfoLite.monotonicNow() >= nextRescan
            if options.pollInterval == nil && !watcher.isWatching {
                rescan = watcher.rewatch() || rescan
            }
            if options.drain && !rescan && !intake.hasUnsettled && forwarder?.hasWorkInHand != true
                && drainEnding(queue, storage) != nil
            {
                // Idle: confirm with a full look before exiting, as events are only hints. Jobs
                // whose dead processor's handlers still run will come back: wait for them.
                let pass = store.recoverOrphans()
                summary.withLock { $0.recovered += pass.moved.count }
                settleParents(of: pass, store)
                // A cancel request may wait for a job that recovery just put back.
                if !pass.moved.isEmpty { control.apply() }
                if pass.moved.isEmpty && pass.awaitingOrphanedHandlers == 0 && intake.examineAll(watcher) == 0
                    && !intake.hasUnsettled, let ending = drainEnding(queue, storage)
                {
                    summary.withLock { ending.record(in: &$0) }
                    ending.report(drainWait: options.drainWait)
                    break
                }
            }
            if rescan {
                let pass = store.recoverOrphans()
                summary.withLock { $0.recovered += pass.moved.count }
                settleParents(of: pass, store)
                store.settleWaitingParents()
                store.settleAllWaiters()
                let returned = store.applyReturns()
                summary.withLock { $0.returned += returned }
                if !schedules.schedules.isEmpty {
                    schedules.fireDue()
                    schedules.pruneMarkers()
                    nextSchedule = schedules.nextDue(after: ProcessInfoLite.now())
                }
                store.removeStaleTemporaries()
                applyRetention(store)
                control.apply()
                if changes.needsRescan {
                    Diagnostics.info("inotify lost events (queue overflow or directory replaced); rescanned queued/")
                }
                intake.examineAll(watcher) { !stopRequested.load(ordering: .sequentiallyConsistent) }
                nextRescan = ProcessInfoLite.monotonicNow() + rescanInterval
            }
        }

        // Shutdown: no new claims; running jobs get the grace period, then are stopped.
        systemd?.send(["STOPPING=1", "STATUS=stopping: \(queue.load.running) running"])
        queue.stop()
        let graceEnds = ProcessInfoLite.monotonicNow() + configuration.shutdownGrace
        if !queue.waitUntilIdle(deadline: graceEnds) {
            running.requestStopOfAll(.shutdown)
        }
        finishedWorkers.wait()
        finishing?.stop()
        if metricsFile != nil { writeMetrics() }
        store.journal.reportLosses(processor: identity.name)
        var result = summary.withLock { $0 }
        result.seconds = ProcessInfoLite.monotonicNow() - began
        return result
    }

    /// Whether a drain may end now: nothing running, and no queued job (of a type not held) due
    /// within `drainWait` seconds, or claiming paused that long because storage refuses writes.
    private func drainEnding(_ queue: WorkQueue, _ storage: StorageGate) -> DrainEnding? {
        guard queue.load.running == 0 else { return nil }
        let outlook = queue.outlook(horizon: ProcessInfoLite.now() + options.drainWait)
        if outlook.dueBy == 0 { return DrainEnding(later: outlook.later, earliest: outlook.earliestLater) }
        guard let refusal = storage.refusal(pausedFor: options.drainWait) else { return nil }
        return DrainEnding(
            later: outlook.later, earliest: outlook.earliestLater, waiting: outlook.dueBy, refusal: refusal)
    }

    /// Children that recovery finished (out of attempts) may end their parents.
    private func settleParents(of pass: RecoveryPass, _ store: JobStore) {
        let parents = Set(pass.moved.filter { $0.state.isTerminal }.compactMap { JobID.parent(of: $0.id) })
        for parent in parents.sorted() { store.settleParent(parent) }
    }

    /// Purges finished jobs past the configured retention, a bounded number per pass so that a
    /// large backlog is worked off over several rescans.
    private func applyRetention(_ store: JobStore) {
        for (state, age) in spool.configuration.retention.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let purged = store.purge(PurgeRule(states: [state], olderThan: age), dryRun: false, limit: 1000)
            if !purged.isEmpty { Diagnostics.info("retention: purged \(purged.count) job(s) from \(state.rawValue)/") }
        }
    }

    private func buildHandlers(root: String, users: HandlerUsers) throws(SpoolError) -> [String: any JobHandler] {
        var handlers: [String: any JobHandler] = [:]
        for (type, configuration) in spool.configuration.handlers {
            switch configuration.kind {
            case .command(let arguments):
                handlers[type] = ExecHandler(
                    arguments: arguments, environment: configuration.environment,
                    workingDirectory: configuration.workingDirectory, spoolRoot: root, user: users.switching[type])
            case .builtin(let name):
                guard
                    let handler = BuiltinHandlers.handler(
                        named: name, configuration: configuration, spool: spool.configuration, root: root,
                        user: users.switching[type])
                else {
                    throw .invalidConfiguration(path: spool.layout.configurationPath, reason: "no built-in \(name)")
                }
                handlers[type] = handler
            }
        }
        for (type, handler) in inProcessHandlers { handlers[type] = handler }
        return handlers
    }
}

/// The watcher's side of intake: examines entries of `queued/`, indexes jobs, rejects bad input,
/// and gives files that may still be being written a little time.
struct IntakeLoop {
    let store: JobStore
    let queue: WorkQueue
    let summary: Locked<RunSummary>
    private var unsettled: [[UInt8]: Double] = [:]

    init(store: JobStore, queue: WorkQueue, summary: Locked<RunSummary>) {
        self.store = store
        self.queue = queue
        self.summary = summary
    }

    var hasUnsettled: Bool { !unsettled.isEmpty }

    /// Examines entries; returns how many jobs were newly indexed.
    @discardableResult
    mutating func examine(_ names: [[UInt8]]) -> Int {
        let layout = store.layout
        let limit = store.spool.configuration.maximumJobBytes
        let now = ProcessInfoLite.now()
        var entries: [IndexEntry] = []
        var indexed = 0
        for rawName in names {
            if let id = JobID.reference(fromRelativeName: rawName), queue.contains(id) { continue }
            switch Intake.examine(rawName, in: layout, limit: limit, accepts: store.accepts, now: now) {
            case .job(let entry):
                unsettled[rawName] = nil
                entries.append(entry)
                // Hand over in slices: the workers start on a large backlog (reading a million
                // job files takes seconds) while the rest is still being read.
                if entries.count == Self.handOverSlice {
                    queue.add(entries)
                    indexed += entries.count
                    entries.removeAll(keepingCapacity: true)
                }
            case .ignore:
                unsettled[rawName] = nil
            case .later:
                unsettled[rawName] = unsettled[rawName] ?? now
            case .reject(let reason):
                unsettled[rawName] = nil
                if store.reject(directory: layout.directory(.queued), rawName: rawName, reason: reason) != nil {
                    summary.withLock { $0.rejected += 1 }
                }
            }
        }
        queue.add(entries)
        return indexed + entries.count
    }

    /// Jobs read before the workers get them: large enough that the queue's lock is not taken
    /// per job, small enough that the first job starts within milliseconds.
    static let handOverSlice = 256

    /// Examines everything in `queued/`, read and handed over a slice at a time; returns how
    /// many jobs were newly indexed.
    /// Stops early (a shutdown) when `goOn` turns false.
    @discardableResult
    mutating func examineAll(_ watcher: QueueWatcher, while goOn: () -> Bool = { true }) -> Int {
        var indexed = 0
        watcher.scan(inSlicesOf: Self.scanSlice) { names in
            indexed += examine(names)
            return goOn()
        }
        return indexed
    }

    /// Names read from `queued/` before they are examined.
    static let scanSlice = 4096

    /// Looks again at files that were not parseable a moment ago.
    mutating func retryUnsettled() {
        guard !unsettled.isEmpty else { return }
        examine(Array(unsettled.keys))
    }
}

/// Why a drain ends with jobs left in `queued/`, said on standard error and in the summary.
struct DrainEnding {
    /// Jobs not due within the drain's wait, and the earliest time one is due.
    var later: Int
    var earliest: Double?
    /// Jobs due that were not started because the storage refused writes, and what it said.
    var waiting = 0
    var refusal: String?

    func record(in summary: inout RunSummary) {
        summary.leftQueued = later + waiting
        summary.earliestLeft = earliest
        summary.storageRefusal = refusal
    }

    func report(drainWait: Double) {
        if let refusal {
            Diagnostics.warn(
                "drain gave up: storage has refused writes for \(JobRunner.seconds(drainWait)) or more (\(refusal)); "
                    + "\(waiting) job(s) due are left in queued/")
        }
        if later > 0, let earliest {
            Diagnostics.info(
                "drained: \(later) queued job(s) not due within \(JobRunner.seconds(drainWait)) (--drain-wait) left in "
                    + "queued/, the earliest due at \(Timestamp.format(earliest))")
        }
    }
}
