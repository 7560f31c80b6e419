import SpoolSystem
extension JobStore {
    /// Publishes a new job in `queued/`: the file is written under tmp/, made durable, renamed
    /// into place without replacing anything, and the directory made durable, so with durability
    /// `durable` (the default) a returned id survives a power cut. With no `id`, a fresh time-ordered unique one is made. Returns the id.
    public func submit(_ record: JobRecord, id requestedID: String? = nil) throws(SpoolError) -> String {
        if let problem = record.validationProblem() { throw .invalidJob(path: "the submitted job", reason: problem) }
        if let requestedID {
            try JobID.validate(requestedID)
            if let state = existingState(of: requestedID) {
                throw .duplicateJobID(id: requestedID, state: state.rawValue)
            }
        }
        var record = record
        if record.fields["createdAt"] == nil { record.set("createdAt", .string(Timestamp.now())) }
        let bytes = record.serialized()
        if bytes.count > spool.configuration.maximumJobBytes {
            throw .fileTooLarge(path: "the submitted job", limit: spool.configuration.maximumJobBytes)
        }
        let temporary = try stageDurably(bytes, label: "submit")
        defer { try? FileSystem.unlinkIfPresent(temporary) }
        for _ in 0..<10 {
            let id = requestedID ?? JobID.generate()
            do {
                try FileSystem.renameNoReplace(temporary, to: layout.jobPath(id, in: .queued))
                try commits.published(in: [layout.directory(.queued)], acknowledged: true)
                recordEvent(id, record: record, from: nil, to: .queued)
                return id
            } catch  where error.isAlreadyExists {
                if let requestedID { throw .duplicateJobID(id: requestedID, state: JobState.queued.rawValue) }
            } catch {
                throw .system(error)
            }
        }
        throw .system(SystemError("publish", path: temporary, code: ErrnoCode.alreadyExists))
    }
}

extension JobStore {
    /// Writes bytes to a new file under tmp/ and makes them durable (as the spool's durability
    /// says); returns its path.
    func stageDurably(_ bytes: [UInt8], label: String) throws(SpoolError) -> String {
        let temporary = layout.temporaryPath(label)
        do throws(SystemError) {
            let fd = try FileSystem.createExclusive(temporary)
            do {
                try fd.writeAll(bytes, path: temporary)
                fd.close()
                try commits.stage([temporary])
            } catch {
                fd.close()
                try? FileSystem.unlinkIfPresent(temporary)
                throw error
            }
        } catch {
            throw .system(error)
        }
        return temporary
    }

    /// Publishes a job under a deterministic id unless a job with that id exists in any state:
    /// the way dependents and scheduled jobs are made exactly once, however many processors race
    /// to make them. The states are searched in the order jobs move through them, so a job
    /// moving on is seen; one moving back to `queued/` meets the no-replace publish there.
    /// Durable like `submit`. Returns true when this call created the job.
    public func publishOnce(_ record: JobRecord, id: String) throws(SpoolError) -> Bool {
        try JobID.validate(id)
        let order: [JobState] = [.queued, .waiting, .held, .processing, .done, .failed, .cancelled]
        if order.contains(where: { FileSystem.exists(layout.jobPath(id, in: $0)) }) { return false }
        var record = record
        if record.fields["createdAt"] == nil { record.set("createdAt", .string(Timestamp.now())) }
        let temporary = try stageDurably(record.serialized(), label: "publish")
        defer { try? FileSystem.unlinkIfPresent(temporary) }
        // Looked again after staging: the flush can take a while (a group commit), and a racing
        // publisher's job may have left queued/ meanwhile; the window left is the next two calls.
        if order.contains(where: { FileSystem.exists(layout.jobPath(id, in: $0)) }) { return false }
        do {
            try FileSystem.renameNoReplace(temporary, to: layout.jobPath(id, in: .queued))
            try commits.published(in: [layout.directory(.queued)], acknowledged: true)
            recordEvent(id, record: record, from: nil, to: .queued)
            return true
        } catch  where error.isAlreadyExists {
            return false
        } catch {
            throw .system(error)
        }
    }
}
