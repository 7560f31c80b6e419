import SpoolSystem

extension JobStore {
    /// Publishes a new job in `queued/`: the file is written under tmp/, made durable, renamed
    /// into place without replacing anything, and the directory made durable, so with durability
    /// `durable` (the default) a returned id survives a power cut. With no `id`, a fresh
    /// time-ordered unique one is made. Returns the id.
    ///
    /// With an `id`, the call fails with `duplicateJobID` while a job with that id exists in any
    /// state, and of concurrent calls for one id exactly one succeeds, even while processors move
    /// the job: the look and the publish happen under the id's `SubmissionLock`.
    public func submit(_ record: JobRecord, id requestedID: String? = nil) throws(SpoolError) -> String {
        if let problem = record.validationProblem() { throw .invalidJob(path: "the submitted job", reason: problem) }
        if let requestedID { try JobID.validate(requestedID) }
        var record = record
        if record.fields["createdAt"] == nil { record.set("createdAt", .string(Timestamp.now())) }
        let bytes = record.serialized()
        if bytes.count > spool.configuration.maximumJobBytes {
            throw .fileTooLarge(path: "the submitted job", limit: spool.configuration.maximumJobBytes)
        }
        if let requestedID {
            let lock = try SubmissionLock.acquire(requestedID, in: layout)
            defer { lock.release() }
            if let state = try publishUnlessTaken(record, bytes: bytes, id: requestedID, label: "submit") {
                throw .duplicateJobID(id: requestedID, state: state.rawValue)
            }
            return requestedID
        }
        let temporary = try stageDurably(bytes, label: "submit")
        defer { try? FileSystem.unlinkIfPresent(temporary) }
        for _ in 0..<10 {
            let id = JobID.generate()
            do {
                try FileSystem.renameNoReplace(temporary, to: layout.jobPath(id, in: .queued))
                try commits.published(in: [layout.directory(.queued)], acknowledged: true)
                recordEvent(id, record: record, from: nil, to: .queued)
                return id
            } catch  where error.isAlreadyExists {
                continue
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
    /// the way dependents and scheduled jobs are made (their makers' markers make it exactly
    /// once, `publishExactlyOnce`). Durable like `submit`. Returns true when this call created
    /// the job.
    public func publishOnce(_ record: JobRecord, id: String) throws(SpoolError) -> Bool {
        try JobID.validate(id)
        var record = record
        if record.fields["createdAt"] == nil { record.set("createdAt", .string(Timestamp.now())) }
        return try publishUnlessTaken(record, bytes: record.serialized(), id: id, label: "publish") == nil
    }

    /// Where a job with this id is looked for before one is published: `queued/` first, then
    /// `processing/`, which every other state is reached through (claims, and the moves of
    /// `cancel`, `retry`, `hold`, `release` and of waiting jobs), then the rest. A job moving on
    /// while the states are searched is seen where it arrives; one moving back to `queued/`
    /// meets the no-replace publish there.
    static let lookupOrder: [JobState] = [
        .queued, .processing, .waiting, .held, .forwarded, .done, .failed, .cancelled,
    ]

    /// The state of a job with this id, searched in `lookupOrder`.
    func stateHolding(_ id: String) -> JobState? {
        Self.lookupOrder.first { FileSystem.exists(layout.jobPath(id, in: $0)) }
    }

    /// Publishes `bytes` (the serialized `record`) as `queued/ID.json` unless a job with that id
    /// exists in any state: returns that state, or nil when this call published the job.
    private func publishUnlessTaken(_ record: JobRecord, bytes: [UInt8], id: String, label: String)
        throws(SpoolError) -> JobState?
    {
        if let state = stateHolding(id) { return state }
        let temporary = try stageDurably(bytes, label: label)
        defer { try? FileSystem.unlinkIfPresent(temporary) }
        // Looked again after staging: the flush can take a while (a group commit), and a job
        // with this id may have left queued/ meanwhile.
        if let state = stateHolding(id) { return state }
        do {
            try FileSystem.renameNoReplace(temporary, to: layout.jobPath(id, in: .queued))
            try commits.published(in: [layout.directory(.queued)], acknowledged: true)
            recordEvent(id, record: record, from: nil, to: .queued)
            return nil
        } catch  where error.isAlreadyExists {
            return .queued
        } catch {
            throw .system(error)
        }
    }
}
