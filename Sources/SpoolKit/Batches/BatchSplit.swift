import SpoolJSON
import SpoolSystem

/// The status a parent's record has in `processing/` once its children are published: it is
/// waiting for them, owned by its tree rather than by a processor, so recovery leaves it alone.
public enum BatchStatus {
    public static let waitingForChildren = "waiting-children"
}

/// Fields a child inherits from its parent besides type, payload and the batch fields.
private let inheritedFields = ["priority", "timeout", "maxAttempts", "limits", "project", "correlation"]

extension JobStore {
    /// Splits a claimed parent into its children, all or nothing: every child file is written
    /// into one staging directory under tmp/, which is then renamed to `queued/PARENT/` without
    /// replacing anything. A processor that dies mid-split leaves only a staging directory (removed
    /// as stale); the next claim of the parent splits again. A parent whose `queued/PARENT/`
    /// exists was split already: its children are not made twice. The parent's record then says
    /// `waiting-children` and the tree decides its outcome (`settleParent`).
    func split(_ claimed: ClaimedJob) {
        let id = claimed.id
        let began = ProcessInfoLite.monotonicNow()
        var record = claimed.record
        var locked = true
        // Closed once, before settling: flock is per open file, and settleParent takes it anew.
        defer { if locked { claimed.claimLock.close() } }
        guard let specification = record.batch,
            let items = record.fields["payload"]?.objectValue?[specification.itemsField]?.arrayValue
        else { return }
        if JobID.parent(of: id) != nil || id.hasSuffix(JobID.fileExtension) {
            let reason =
                JobID.parent(of: id) != nil
                ? "a child batch job cannot itself be a parent (it has a \"batch\" section)"
                : "a parent's id must not end in .json (its batch directory would look like a job file)"
            record.set("error", .string(reason))
            record.set("finishedAt", .string(Timestamp.now()))
            JobLog.append(layout, id: id, .error, reason + " → failed/")
            _ = try? move(id, to: .failed, record: record)
            return
        }
        let count = (items.count + specification.size - 1) / specification.size
        let published = layout.batchDirectory(id, in: .queued)
        if FileSystem.exists(published) && !FileSystem.isRealDirectory(published) {
            let reason = "queued/\(id) exists and is not a directory: it cannot hold this parent's children"
            record.set("error", .string(reason))
            record.set("finishedAt", .string(Timestamp.now()))
            JobLog.append(layout, id: id, .error, reason + " → failed/")
            _ = try? move(id, to: .failed, record: record)
            return
        }
        do {
            if !FileSystem.exists(published) {
                try publishChildren(
                    of: id, record: record, specification: specification, items: items,
                    submitterID: claimed.submitterID)
                JobLog.append(
                    layout, id: id, .info,
                    "split \(items.count) item(s) of payload.\(specification.itemsField) into \(count) child "
                        + "job(s) of up to \(specification.size) in "
                        + "\(JobRunner.seconds(ProcessInfoLite.monotonicNow() - began)) → queued/\(id)/")
            } else {
                JobLog.append(layout, id: id, .info, "children were published before a restart; not split again")
            }
            record.status = BatchStatus.waitingForChildren
            record.set("childCount", JSONValue(count))
            record.set("ownerUID", JSONValue(Int(claimed.submitterID)))
            if record.fields["startedAt"] == nil { record.set("startedAt", .string(Timestamp.now())) }
            record.set("processor", nil)
            record.set("progress", JSONValue(0))
            try rewriteProcessing(id, record)
        } catch {
            // The parent stays claimed in processing/; recovery puts it back once this processor
            // is gone, and the next split finds what was published.
            Diagnostics.warn("could not split parent job \(id): \(error)")
            JobLog.append(layout, id: id, .error, "could not split: \(error)")
            return
        }
        claimed.claimLock.close()
        locked = false
        // Children may all have finished already (or there are none).
        settleParent(id)
    }

    /// Writes every child into a staging directory and publishes it as `queued/PARENT/`.
    private func publishChildren(
        of id: String, record: JobRecord, specification: BatchSpecification, items: [JSONValue],
        submitterID: UInt32
    ) throws(SystemError) {
        let staging = layout.temporaryPath("split-" + id)
        try FileSystem.makeDirectory(staging)
        do {
            let count = (items.count + specification.size - 1) / specification.size
            let width = JobID.childNumberWidth(count: count)
            var written: [String] = []
            var payload = record.fields["payload"]?.objectValue ?? JSONObject()
            var base = JSONObject([("type", .string(specification.childType ?? record.type))])
            for key in inheritedFields { if let value = record.fields[key] { base[key] = value } }
            // A failFast child's failure must reach its parent at once; others wait for the update.
            if specification.onChildFailure == .failFast { base["onChildFailure"] = .string("failFast") }
            // Children are written by the processor: they carry the parent's submitter explicitly.
            base["ownerUID"] = JSONValue(Int(submitterID))
            let createdAt = Timestamp.now()
            for index in 0..<count {
                let offset = index * specification.size
                let slice = Array(items[offset..<min(items.count, offset + specification.size)])
                payload[specification.itemsField] = .array(slice)
                var child = base
                child["payload"] = .object(payload)
                child["parentJobId"] = .string(id)
                child["batchNumber"] = JSONValue(index + 1)
                child["batchOffset"] = JSONValue(offset)
                child["batchSize"] = JSONValue(slice.count)
                child["createdAt"] = .string(createdAt)
                let path = staging + "/" + JobID.paddedNumber(index + 1, width: width) + JobID.fileExtension
                let fd = try FileSystem.createExclusive(path)
                defer { fd.close() }
                try fd.writeAll(JSONWriter.write(.object(child)), path: path)
                written.append(path)
            }
            try commits.stage(written + [staging])
            try FileSystem.makeDirectoryInSpool(layout.logsDirectory + "/" + id, root: layout.root)
            try FileSystem.makeDirectoryInSpool(layout.resultsDirectory + "/" + id, root: layout.root)
            try FileSystem.renameDirectoryNoReplace(staging, to: layout.batchDirectory(id, in: .queued))
            try commits.published(in: [layout.temporaryDirectory, layout.directory(.queued)], acknowledged: true)
        } catch {
            FileSystem.removeShallowTree(staging)
            // Published meanwhile (cannot happen while we hold the claim, but then it is done).
            if error.isAlreadyExists { return }
            throw error
        }
    }
}
