extension JobStore {
    /// Publishes a new job in `queued/` durably: the file is written under tmp/, fsynced, renamed
    /// into place without replacing anything, and the directory fsynced, so a returned id survives
    /// a power cut. With no `id`, a fresh time-ordered unique one is made. Returns the id.
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
        let temporary = layout.temporaryPath("submit")
        do throws(SystemError) {
            let fd = try FileSystem.createExclusive(temporary)
            do {
                try fd.writeAll(bytes, path: temporary)
                try fd.sync(path: temporary)
                fd.close()
            } catch {
                fd.close()
                try? FileSystem.unlinkIfPresent(temporary)
                throw error
            }
        } catch {
            throw .system(error)
        }
        defer { try? FileSystem.unlinkIfPresent(temporary) }
        for _ in 0..<10 {
            let id = requestedID ?? JobID.generate()
            do {
                try FileSystem.renameNoReplace(temporary, to: layout.jobPath(id, in: .queued))
                try FileSystem.syncDirectory(layout.directory(.queued))
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
