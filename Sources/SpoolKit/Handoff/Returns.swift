import SpoolJSON
import SpoolSystem

/// Finished jobs going back to the spool they came from, and coming back to it.
///
/// On the destination, a job that carries `"returnTo": ROUTE` (set by the origin's route) is,
/// once finished, placed in `outbox/ROUTE/` as `ID.out` (its result, if any) and `ID.record`
/// (its final record, written last); the return route's transport delivers them into the
/// origin's `returns/`. On the origin, each `returns/ID.record` whose job waits in
/// `forwarded/` settles it: the remote outcome (state, attempts, times, exit, error, counts)
/// is recorded with `remote`, the result becomes `results/ID.out`, and the job moves to
/// `done/`, `failed/` or `cancelled/` as it ended there.
extension JobStore {
    /// On the destination: sends a finished job back if it asks to be.
    func packageReturn(_ id: String, record: JobRecord, state: JobState) {
        guard state.isTerminal, JobID.parent(of: id) == nil, let routeName = record.fields["returnTo"]?.stringValue,
            let route = spool.configuration.routes.first(where: { $0.name == routeName && $0.returns })
        else { return }
        var returned = record
        returned.set("status", .string(state.rawValue))
        do {
            let result = layout.resultPath(id)
            if FileSystem.exists(result) {
                let directory = layout.outboxDirectory + "/" + route.name
                try FileSystem.makeDirectory(layout.outboxDirectory)
                try FileSystem.makeDirectory(directory)
                do {
                    try FileSystem.linkFromSpool(result, root: layout.root, to: directory + "/" + id + ".out")
                } catch  where error.isAlreadyExists {}
            }
            try placeInOutbox(route.name, files: [(id + ".record", returned.serialized())])
        } catch {
            Diagnostics.warn("route \(route.name): could not return job \(id) to its origin: \(error)")
        }
    }

    /// On the origin: settles forwarded jobs whose outcome came back. Returns how many.
    @discardableResult
    public func applyReturns() -> Int {
        let directory = layout.returnsDirectory
        var applied = 0
        for entry in (try? FileSystem.listDirectory(directory)) ?? [] {
            guard let name = entry.name, !name.hasPrefix("."), name.hasSuffix(".record") else { continue }
            let id = String(name.dropLast(".record".count))
            guard JobID.isValid(id) else { continue }
            if applyReturn(id) { applied += 1 }
        }
        return applied
    }

    private func applyReturn(_ id: String) -> Bool {
        let directory = layout.returnsDirectory
        let recordPath = directory + "/" + id + ".record"
        let resultPath = directory + "/" + id + ".out"
        guard let bytes = try? FileSystem.readFile(recordPath, limit: 64 * 1024 * 1024),
            let remote = try? JobRecord(parsing: bytes, path: recordPath)
        else { return false }
        guard let state = try? locate(id).state, state == .forwarded else {
            // Returned before (a transport sent it twice), or never forwarded from here.
            JobLog.append(
                layout, id: id, .warning, "returns/\(id).record: no forwarded job \(id) waits for it; removed")
            try? FileSystem.unlinkIfPresent(recordPath)
            try? FileSystem.unlinkIfPresent(resultPath)
            return false
        }
        // The result is sent first; a record that names one waits for it.
        if remote.fields["result"] != nil && !FileSystem.exists(resultPath) { return false }
        guard let taken = try? take(id, from: .forwarded) else { return false }
        var record = taken.record
        for key in [
            "attempts", "deferredAttempts", "startedAt", "finishedAt", "durationSeconds", "exitCode", "signal", "error",
            "progress", "records", "children", "childCount", "failedChildren", "cancelledChildren", "cancelledAt",
            "cancelledBy",
        ] {
            record.set(key, remote.fields[key])
        }
        let target = remote.status.flatMap(JobState.init(rawValue:)).flatMap { $0.isTerminal ? $0 : nil } ?? .failed
        var remoteInfo = JSONObject([
            ("route", record.fields["forwardedTo"] ?? .null), ("returnedAt", .string(Timestamp.now())),
        ])
        if let processor = remote.fields["processor"] { remoteInfo["processor"] = processor }
        if let result = remote.fields["result"] { remoteInfo["result"] = result }
        record.set("remote", .object(remoteInfo))
        record.set("result", nil)
        do {
            if FileSystem.exists(resultPath) {
                try FileSystem.renameIntoSpool(resultPath, to: layout.resultPath(id), root: layout.root)
                record.set("result", .string(layout.relativeResultPath(id)))
            }
            try settle(taken, to: target, record: record)
        } catch {
            Diagnostics.warn("could not settle returned job \(id): \(error)")
            return false
        }
        try? FileSystem.unlinkIfPresent(recordPath)
        JobLog.append(
            layout, id: id, .info,
            "returned from \(record.fields["destination"]?.stringValue ?? "?") → \(target.rawValue)/")
        return true
    }
}
