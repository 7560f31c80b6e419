import SpoolJSON
import SpoolSystem

/// Job-level dependencies: a job listing `"after": ["ID", …]` waits in `waiting/` until those
/// jobs have finished (`"afterCondition"`: `onSuccess`, the default, or `onCompletion`). If a
/// dependency ends so that the condition can never be met, the waiting job is cancelled with
/// the reason; nothing waits for ever. Each dependency has a directory of the jobs waiting for
/// it, `deps/jobs/DEP/`, which the processor finishing it reads; every processor also looks at
/// all of `waiting/` at start and at every rescan.
public enum DependencyVerdict: Sendable, Equatable {
    /// Every dependency has finished as the condition asks.
    case ready
    /// These dependencies have not finished yet.
    case waiting([String])
    /// The condition can never be met; the sentence says why.
    case blocked(String)
}

extension JobRecord {
    /// The ids this job waits for (`after`), if any.
    public var dependencies: [String] { fields["after"]?.arrayValue?.compactMap(\.stringValue) ?? [] }

    /// `afterCondition`: onSuccess unless the job says otherwise.
    public var dependencyCondition: DependencyCondition {
        fields["afterCondition"]?.stringValue.flatMap(DependencyCondition.init(rawValue:)) ?? .onSuccess
    }

    /// The problem with `after` / `afterCondition`, if any.
    func dependencyProblem() -> String? {
        if let after = fields["after"] {
            guard let list = after.arrayValue, !list.isEmpty, list.count <= 1000,
                list.allSatisfy({ $0.stringValue.map { JobID.referenceProblem(with: $0) == nil } ?? false })
            else { return "\"after\" must be an array of 1 to 1000 job ids" }
        }
        if let condition = fields["afterCondition"],
            condition.stringValue.flatMap(DependencyCondition.init(rawValue:)) == nil
        {
            return "\"afterCondition\" must be onSuccess or onCompletion"
        }
        return nil
    }
}

extension JobStore {
    /// Where the dependencies of a job stand now.
    public func evaluateDependencies(of record: JobRecord) -> DependencyVerdict {
        let condition = record.dependencyCondition
        var pending: [String] = []
        for dependency in record.dependencies {
            guard let state = try? locate(dependency).state else {
                return .blocked("dependency \(dependency) does not exist")
            }
            if condition.isMet(by: state) { continue }
            switch state {
            case .failed: return .blocked("dependency \(dependency) failed")
            case .cancelled: return .blocked("dependency \(dependency) was cancelled")
            default: pending.append(dependency)
            }
        }
        return pending.isEmpty ? .ready : .waiting(pending)
    }

    /// Refuses a submission whose dependencies do not exist.
    public func checkDependenciesExist(_ record: JobRecord, source: String) throws(SpoolError) {
        for dependency in record.dependencies where (try? locate(dependency)) == nil {
            throw .invalidJob(path: source, reason: "dependency \(dependency) does not exist")
        }
    }

    /// Parks a claimed job whose dependencies are pending in `waiting/`, and registers it with
    /// each of them, or settles one whose dependencies can never be met; returns false (with the
    /// claim untouched) when it must run now.
    func parkIfWaiting(_ claimed: ClaimedJob) -> Bool {
        let id = claimed.id
        var record = claimed.record
        let verdict = evaluateDependencies(of: record)
        if verdict == .ready { return false }
        // The claim is released once, here; the caller does not use it again.
        defer { claimed.claimLock.close() }
        switch verdict {
        case .ready:
            return false
        case .blocked(let reason):
            record.set("error", .string(reason))
            record.set("finishedAt", .string(Timestamp.now()))
            let target: JobState = reason.hasSuffix("does not exist") ? .failed : .cancelled
            JobLog.append(layout, id: id, .warning, reason + " → \(target.rawValue)/")
            do { try move(id, to: target, record: record) } catch {
                Diagnostics.warn("could not move job \(id) to \(target.rawValue)/: \(error)")
            }
            return true
        case .waiting(let pending):
            record.set("waitingFor", .array(pending.map(JSONValue.string)))
            for dependency in pending { registerWaiter(id, for: dependency) }
            JobLog.append(layout, id: id, .info, "waiting for \(pending.joined(separator: ", ")) → waiting/")
            do { try move(id, to: .waiting, record: record) } catch {
                Diagnostics.warn("could not move job \(id) to waiting/: \(error)")
                return true
            }
            // A dependency may have finished while this one was being parked.
            settleWaiter(id)
            return true
        }
    }

    private func waitersDirectory(of dependency: String) -> String {
        layout.dependenciesDirectory + "/jobs/" + Self.encodedKey(dependency)
    }

    private func registerWaiter(_ id: String, for dependency: String) {
        let directory = waitersDirectory(of: dependency)
        do {
            try FileSystem.makeDirectory(layout.dependenciesDirectory)
            try FileSystem.makeDirectory(layout.dependenciesDirectory + "/jobs")
            try FileSystem.makeDirectory(directory)
            try FileSystem.writeAtomically(
                Array((id + "\n").utf8), to: directory + "/" + Self.encodedKey(id), durable: true)
        } catch {
            // The rescan of waiting/ still releases it.
            Diagnostics.warn("could not register job \(id) as waiting for \(dependency): \(error)")
        }
    }

    /// A job has finished: the jobs waiting for it are looked at again.
    func releaseWaiters(of dependency: String) {
        let directory = waitersDirectory(of: dependency)
        for entry in (try? FileSystem.listDirectory(directory)) ?? [] {
            guard let name = entry.name, !name.hasPrefix("."), !name.hasSuffix(".tmp"),
                let bytes = try? FileSystem.readFile(directory + "/" + name, limit: 4096)
            else { continue }
            let waiter = String(decoding: bytes, as: UTF8.self).trimmingNewline()
            settleWaiter(waiter)
            if (try? locate(waiter).state) != .waiting { try? FileSystem.unlinkIfPresent(directory + "/" + name) }
        }
        try? FileSystem.removeDirectory(directory)
    }

    /// Moves a waiting job on if it can: to `queued/` when its dependencies are met, to
    /// `cancelled/` when they never can be.
    public func settleWaiter(_ id: String) {
        guard let state = try? locate(id).state, state == .waiting,
            let path = try? locate(id).path, let bytes = try? FileSystem.readFile(path, limit: 64 * 1024 * 1024),
            let record = try? JobRecord(parsing: bytes, path: path)
        else { return }
        let verdict = evaluateDependencies(of: record)
        if case .waiting = verdict { return }
        guard let taken = try? take(id, from: .waiting) else { return }
        var updated = taken.record
        updated.set("waitingFor", nil)
        do {
            switch verdict {
            case .ready:
                try settle(taken, to: .queued, record: updated)
                JobLog.append(layout, id: id, .info, "dependencies finished → queued/")
            case .blocked(let reason):
                updated.set("error", .string(reason))
                updated.set("finishedAt", .string(Timestamp.now()))
                try settle(taken, to: .cancelled, record: updated)
                JobLog.append(layout, id: id, .warning, reason + " → cancelled/")
            case .waiting:
                break
            }
        } catch {
            Diagnostics.warn("could not move waiting job \(id) on: \(error)")
        }
    }

    /// Looks at every job in `waiting/` (at start and at every rescan).
    public func settleAllWaiters() {
        for entry in (try? FileSystem.listDirectory(layout.directory(.waiting))) ?? [] {
            if let id = JobID.id(fromFileName: entry.rawName) { settleWaiter(id) }
        }
    }
}
