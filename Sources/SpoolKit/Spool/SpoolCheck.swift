import SpoolJSON
import SpoolSystem

/// One problem `spool fsck` found in a spool.
public struct CheckProblem: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// The same id in more than one state directory.
        case duplicate
        /// A job file that cannot be read or parsed, or whose record is not sane.
        case badRecord = "bad-record"
        /// An entry of a state directory that is no job file (a link, FIFO, stray name).
        case strayEntry = "stray-entry"
        /// A job in `processing/` whose processor (and every handler it started) is gone.
        case orphan
        /// A leftover in `tmp/` older than a day (a write or a batch split that never finished).
        case staleTemporary = "stale-temporary"
        /// Children in a batch directory whose parent job exists in no state.
        case childWithoutParent = "child-without-parent"
        /// A parent whose children (as many as its `childCount`) are not all present.
        case missingChildren = "missing-children"
        /// `results/ID.out` or `logs/ID.log` of a job that exists in no state.
        case resultWithoutJob = "result-without-job"
        case logWithoutJob = "log-without-job"
        /// A job whose `result` field names a file that does not exist.
        case missingResult = "missing-result"
        /// `processors/NAME.lock` of a processor that is gone: no process (neither it nor a
        /// handler it started) holds its lock.
        case deadProcessorLock = "dead-processor-lock"
        /// A staged start or an in-progress result in `tmp/` of an attempt that is over (its job
        /// has left `processing/`) and that no process holds.
        case abandonedStaging = "abandoned-staging"
    }

    public let kind: Kind
    /// The path concerned, relative to the spool.
    public let path: String
    public let detail: String
    /// True when `--repair` fixed it.
    public var repaired = false

    var jsonValue: JSONValue {
        .object(
            JSONObject([
                ("kind", .string(kind.rawValue)), ("path", .string(path)), ("detail", .string(detail)),
                ("repaired", .bool(repaired)),
            ]))
    }
}

/// What `spool fsck` found: the jobs counted and the problems, repaired or not.
public struct CheckReport: Sendable {
    public var jobs = 0
    /// Jobs in `processing/` whose claim is alive (a process of it holds its lock): running.
    public var running = 0
    public var problems: [CheckProblem] = []
    /// Problems that remain (not repaired).
    public var remaining: Int { problems.filter { !$0.repaired }.count }

    public var jsonValue: JSONValue {
        .object(
            JSONObject([
                ("jobs", JSONValue(jobs)), ("running", JSONValue(running)),
                ("problems", .array(problems.map(\.jsonValue))),
                ("remaining", JSONValue(remaining)), ("clean", .bool(remaining == 0)),
            ]))
    }
}

extension JobStore {
    /// Checks the whole spool: every job in exactly one state, readable and sane; orphans in
    /// `processing/`; stale temporaries; half-made batches; results and logs without jobs; jobs
    /// whose result is missing. With `repair`, fixes what is safe to fix beside live processors
    /// (orphans through recovery, which never takes a live processor's job; stale temporaries)
    /// and reports the rest. Reads only otherwise.
    public func check(repair: Bool, now: Double = ProcessInfoLite.now()) -> CheckReport {
        var report = CheckReport()
        var locations: [String: [JobState]] = [:]
        var batchDirectories: [(parent: String, state: JobState)] = []
        for state in JobState.allCases {
            let directory = layout.directory(state)
            for entry in (try? FileSystem.listDirectory(directory)) ?? [] {
                let relative = state.rawValue + "/" + DirectoryEntry.printable(entry.rawName)
                let kind = (try? FileSystem.statusNotFollowing(directory: directory, rawName: entry.rawName))?.kind
                if kind == .directory, let parent = QueueWatcher.batchDirectoryName(entry.rawName) {
                    batchDirectories.append((parent, state))
                    for child in (try? FileSystem.listDirectory(layout.batchDirectory(parent, in: state))) ?? [] {
                        if let number = JobID.id(fromFileName: child.rawName),
                            (try? FileSystem.statusNotFollowing(layout.jobPath(parent + "/" + number, in: state)))?
                                .kind == .regular
                        {
                            locations[parent + "/" + number, default: []].append(state)
                        } else if !(state == .queued && JobID.isProducerTemporary(child.rawName)) {
                            report.problems.append(
                                CheckProblem(
                                    kind: .strayEntry, path: relative + "/" + DirectoryEntry.printable(child.rawName),
                                    detail: "not a child job file"))
                        }
                    }
                } else if kind == .regular, let id = JobID.id(fromFileName: entry.rawName) {
                    locations[id, default: []].append(state)
                } else if state != .failed && !(state == .queued && JobID.isProducerTemporary(entry.rawName))
                    && kind != nil
                {
                    // failed/ keeps rejected bad input as it came (links, FIFOs, directories): by design.
                    let what =
                        kind == .symbolicLink ? "a symbolic link" : kind == .regular ? "a stray file" : "\(kind!)"
                    report.problems.append(
                        CheckProblem(kind: .strayEntry, path: relative, detail: "\(what), not a job file"))
                }
            }
        }
        report.jobs = locations.count
        checkJobs(locations, into: &report)
        for (parent, state) in batchDirectories where locations[parent] == nil && existingState(of: parent) == nil {
            report.problems.append(
                CheckProblem(
                    kind: .childWithoutParent, path: state.rawValue + "/" + parent + "/",
                    detail: "children of \(parent), which is in no state"))
        }
        // Found before any repair: the recovery pass that settles orphans also removes them.
        let deadLocks = ProcessorLocks.names(in: layout).filter { ProcessorLocks.isDead($0, layout: layout) }
            .map { (name: $0, description: ProcessorLocks.describe($0, layout: layout)) }
        let abandoned = abandonedStaging()
        checkOrphans(locations, repair: repair, into: &report)
        checkProcessorLocks(deadLocks, repair: repair, into: &report)
        checkAbandonedStaging(abandoned, repair: repair, into: &report)
        checkTemporaries(repair: repair, now: now, excluding: Set(abandoned.map(\.name)), into: &report)
        checkLeftovers(in: layout.resultsDirectory, suffix: ".out", kind: .resultWithoutJob, locations, into: &report)
        checkLeftovers(in: layout.logsDirectory, suffix: ".log", kind: .logWithoutJob, locations, into: &report)
        return report
    }

    /// Duplicates, unreadable or insane records, missing results and missing children.
    private func checkJobs(_ locations: [String: [JobState]], into report: inout CheckReport) {
        let limit = max(spool.configuration.maximumJobBytes, 64 * 1024 * 1024)
        for (id, states) in locations.sorted(by: { $0.key < $1.key }) {
            // A job moving on during the scan is listed twice for a moment: look again.
            let present = states.filter { FileSystem.exists(layout.jobPath(id, in: $0)) }
            if present.count > 1 {
                report.problems.append(
                    CheckProblem(
                        kind: .duplicate,
                        path: present.map { $0.rawValue + "/" + JobID.fileName(id) }
                            .joined(separator: ", "), detail: "job \(id) is in \(present.count) states"))
            }
            guard let state = present.first else { continue }
            let relative = state.rawValue + "/" + JobID.fileName(id)
            let record: JobRecord
            do {
                record = try JobRecord(
                    parsing: FileSystem.readFile(layout.jobPath(id, in: state), limit: limit), path: relative)
            } catch {
                if case .system(let failure) = error, failure.isNotFound { continue }
                // Bad input moved aside keeps its bytes in failed/ on purpose (FORMAT.md, section 8).
                if state == .failed { continue }
                let note = state == .queued ? " (a processor will move it to failed/)" : ""
                report.problems.append(
                    CheckProblem(kind: .badRecord, path: relative, detail: Intake.reason(error) + note))
                continue
            }
            if let problem = record.validationProblem(), state != .failed {
                report.problems.append(CheckProblem(kind: .badRecord, path: relative, detail: problem))
            } else if state.isTerminal, let status = record.status, status != state.rawValue,
                !id.contains(".rejected-")
            {
                report.problems.append(
                    CheckProblem(
                        kind: .badRecord, path: relative, detail: "its status is \"\(status)\" in \(state.rawValue)/"))
            }
            if let result = record.fields["result"]?.stringValue, result.hasPrefix("results/"),
                !result.contains(".."), !FileSystem.exists(layout.root + "/" + result)
            {
                report.problems.append(
                    CheckProblem(kind: .missingResult, path: relative, detail: "its result \(result) does not exist"))
            }
            if let count = record.childCount, count > 0 {
                let width = JobID.childNumberWidth(count: count)
                let missing = (1...count).filter { number in
                    let child = JobID.child(of: id, number: number, width: width)
                    return locations[child] == nil && existingState(of: child) == nil
                }
                if !missing.isEmpty {
                    report.problems.append(
                        CheckProblem(
                            kind: .missingChildren, path: relative,
                            detail: "\(missing.count) of its \(count) children are in no state"))
                }
            }
        }
    }

    /// Jobs in `processing/` without a live owner, decided exactly as recovery decides.
    private func checkOrphans(_ locations: [String: [JobState]], repair: Bool, into report: inout CheckReport) {
        var liveness = ProcessorLiveness(layout: layout, ownName: nil)
        var orphans: [String] = []
        for (id, states) in locations.sorted(by: { $0.key < $1.key }) where states.contains(.processing) {
            // A claim whose lock a live process holds is running, never an orphan; one held only by
            // what a stopped processor's job left behind is (repair kills those first).
            switch recoverOne(id, liveness: &liveness, inspectOnly: true) {
            case .recovered, .awaitingOrphanedHandlers: orphans.append(id)
            case .ownedByLiveProcessor: report.running += 1
            case .notPresent, .skipped: break
            }
        }
        guard !orphans.isEmpty else { return }
        let moved =
            repair ? Dictionary(recoverOrphans().moved.map { ($0.id, $0.state) }, uniquingKeysWith: { a, _ in a }) : [:]
        for id in orphans {
            var problem = CheckProblem(
                kind: .orphan, path: "processing/" + JobID.fileName(id),
                detail: moved[id].map { "its processor is gone; recovered to \($0.rawValue)/" }
                    ?? "its processor is gone; recovery (a processor's start, or fsck --repair) settles it")
            problem.repaired = moved[id] != nil
            report.problems.append(problem)
        }
    }

    /// Lock files of processors that are gone. The repair is a recovery pass (unless the orphans'
    /// pass already ran), which removes them as every processor's pass does.
    private func checkProcessorLocks(
        _ dead: [(name: String, description: String?)], repair: Bool, into report: inout CheckReport
    ) {
        func path(_ name: String) -> String { layout.processorsDirectory + "/" + name + ".lock" }
        if repair && dead.contains(where: { FileSystem.exists(path($0.name)) }) { recoverOrphans() }
        for (name, description) in dead.sorted(by: { $0.name < $1.name }) {
            let removed = repair && !FileSystem.exists(path(name))
            let gone = "its processor\(description.map { " (" + $0 + ")" } ?? "") is gone (nothing holds its lock)"
            var problem = CheckProblem(
                kind: .deadProcessorLock, path: layout.relative(path(name)),
                detail: gone + Self.recoveryRepairNote(removed: removed, repair: repair))
            problem.repaired = removed
            report.problems.append(problem)
        }
    }

    /// How a problem that a recovery pass mends stands after the check (or its repair).
    static func recoveryRepairNote(removed: Bool, repair: Bool) -> String {
        if removed { return "; removed" }
        return repair
            ? "; not removed: another recovery pass was running (run fsck again)"
            : "; a recovery pass (a processor's, or fsck --repair) removes it"
    }

    /// Staging files of attempts that are over. The repair is a recovery pass (unless one already
    /// ran), which removes them as every processor's pass does.
    private func checkAbandonedStaging(_ abandoned: [AttemptStaging], repair: Bool, into report: inout CheckReport) {
        func path(_ name: String) -> String { layout.temporaryDirectory + "/" + name }
        if repair && abandoned.contains(where: { FileSystem.exists(path($0.name)) }) { recoverOrphans() }
        for staging in abandoned.sorted(by: { $0.name < $1.name }) {
            let removed = repair && !FileSystem.exists(path(staging.name))
            let what = staging.kind == .start ? "the staged start record" : "the in-progress result"
            var problem = CheckProblem(
                kind: .abandonedStaging, path: "tmp/" + staging.name,
                detail: "\(what) of an attempt of job \(staging.id) that is over (the job has left processing/)"
                    + Self.recoveryRepairNote(removed: removed, repair: repair))
            problem.repaired = removed
            report.problems.append(problem)
        }
    }

    /// Leftovers in `tmp/` older than `staleTemporaryAge`: unfinished writes and batch splits.
    private func checkTemporaries(
        repair: Bool, now: Double, excluding reported: Set<String>, into report: inout CheckReport
    ) {
        var stale: [(name: String, isDirectory: Bool)] = []
        for entry in (try? FileSystem.listDirectory(layout.temporaryDirectory)) ?? [] {
            guard let name = entry.name, name.hasSuffix(".tmp"), !reported.contains(name),
                let status = try? FileSystem.statusNotFollowing(layout.temporaryDirectory + "/" + name),
                status.kind == .regular || status.kind == .directory,
                now - Double(status.modificationTimeNanoseconds) / 1e9 > Self.staleTemporaryAge
            else { continue }
            stale.append((name, status.kind == .directory))
        }
        guard !stale.isEmpty else { return }
        if repair { removeStaleTemporaries(now: now) }
        for (name, isDirectory) in stale {
            let detail =
                name.hasPrefix("split-")
                ? "a half-made batch: a split whose processor died before publishing it"
                : isDirectory ? "an old work directory" : "an unfinished write"
            var problem = CheckProblem(kind: .staleTemporary, path: "tmp/" + name, detail: detail)
            problem.repaired = repair && !FileSystem.exists(layout.temporaryDirectory + "/" + name)
            report.problems.append(problem)
        }
    }

    /// Results and logs whose job is in no state (batch children's in `PARENT/` subdirectories).
    private func checkLeftovers(
        in directory: String, suffix: String, kind: CheckProblem.Kind, _ locations: [String: [JobState]],
        into report: inout CheckReport
    ) {
        let top = layout.relative(directory)
        for entry in (try? FileSystem.listDirectory(directory)) ?? [] {
            guard let name = entry.name else { continue }
            var names: [(id: String, shown: String)] = []
            if name.hasSuffix(suffix) {
                names.append((String(name.dropLast(suffix.count)), top + "/" + name))
            } else if JobID.isValid(name), FileSystem.isRealDirectory(directory + "/" + name) {
                for child in (try? FileSystem.listDirectory(directory + "/" + name)) ?? [] {
                    guard let childName = child.name, childName.hasSuffix(suffix) else { continue }
                    names.append((name + "/" + childName.dropLast(suffix.count), top + "/" + name + "/" + childName))
                }
            }
            for (id, shown) in names where locations[id] == nil && JobID.referenceProblem(with: id) == nil {
                // A job published or purged during the scan: look again.
                guard existingState(of: id) == nil, FileSystem.exists(layout.root + "/" + shown) else { continue }
                report.problems.append(CheckProblem(kind: kind, path: shown, detail: "job \(id) is in no state"))
            }
        }
    }
}
