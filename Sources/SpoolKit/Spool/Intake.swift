import SpoolSystem

/// What to do with an entry found in `queued/`.
public enum Examination: Sendable, Equatable {
    /// A job to index for dispatch.
    case job(IndexEntry)
    /// A producer's temporary file, or gone: leave it alone.
    case ignore
    /// Not a runnable job: move it to `failed/` with this reason.
    case reject(String)
    /// Not parseable yet but modified moments ago: a writer may still be at it; look again later.
    case later
}

/// The checks every entry of `queued/` passes before it is indexed or claimed. Nothing here
/// opens a link, blocks on a FIFO, or reads more than the size limit.
public enum Intake {
    /// How long after its last modification an unparseable file is given before it is rejected
    /// (a producer writing in place, against the contract, may still be writing).
    public static let settlingSeconds = 2.0

    /// Whether a file has a second name only for a moment: a link + unlink publish (the fallback
    /// where renameat2 is missing) shows two links between its steps.
    static func mayBeMidPublish(_ status: FileStatus, now: Double) -> Bool {
        status.kind == .regular && status.linkCount == 2
            && now - Double(status.changeTimeNanoseconds) / 1e9 < settlingSeconds
    }

    /// A problem with a file's kind, links or size, or nil when it may be a job.
    static func problem(with status: FileStatus, limit: Int) -> String? {
        if status.kind != .regular { return "it is \(status.kindDescription), not a regular file" }
        if status.linkCount > 1 {
            return "it has \(status.linkCount) hard links (a job file must have one name, so no one can change it "
                + "through another)"
        }
        if status.size > limit { return "it is \(status.size) bytes, over the limit of \(limit) (maxJobBytes)" }
        return nil
    }

    /// The reason part of a job-parsing error, for rejection messages.
    static func reason(_ error: SpoolError) -> String {
        if case .invalidJob(_, let reason) = error { return reason }
        return error.description
    }

    static func unknownTypeReason(_ type: String) -> String {
        "unknown type \"\(type)\": no handler for it in spool.json"
    }

    /// Examines `queued/NAME` for the index: name rules, kind, size, JSON, fields and type.
    static func examine(
        _ rawName: [UInt8], in layout: SpoolLayout, limit: Int, accepts: (JobRecord) -> Bool, now: Double
    ) -> Examination {
        if JobID.isProducerTemporary(rawName) { return .ignore }
        let directory = layout.directory(.queued)
        if let slash = rawName.lastIndex(of: UInt8(ascii: "/")) {
            if JobID.isProducerTemporary(Array(rawName[(slash + 1)...])) { return .ignore }
            // Entries of a batch directory are looked at only while it is a real directory.
            let batch = layout.directory(.queued) + "/" + String(decoding: rawName[..<slash], as: UTF8.self)
            if !FileSystem.isRealDirectory(batch) { return .ignore }
        }
        guard let id = JobID.reference(fromRelativeName: rawName) else {
            let status = try? FileSystem.statusNotFollowing(directory: directory, rawName: rawName)
            guard let status else { return .ignore }
            if let name = String(validating: rawName, as: UTF8.self), name.hasSuffix(JobID.fileExtension) {
                let id = String(name.dropLast(JobID.fileExtension.count))
                return .reject("invalid job id: \(JobID.referenceProblem(with: id) ?? "unknown reason")")
            }
            return .reject(
                "not a job file: \(status.kindDescription) whose name does not end in .json "
                    + "(job files are ID.json; hide work in progress with a leading '.' or a .tmp/.part suffix)")
        }
        let path = directory + "/" + id + JobID.fileExtension
        // lstat first: a FIFO, socket or device is never opened (opening one has effects).
        guard let entryStatus = try? FileSystem.statusNotFollowing(path) else { return .ignore }
        if entryStatus.kind != .regular { return .reject(problem(with: entryStatus, limit: limit)!) }
        let fd: FileDescriptor
        do { fd = try FileSystem.openForReadingSafely(path) } catch {
            switch error.codeName {
            case "ENOENT": return .ignore
            case "ELOOP": return .reject("it is a symbolic link (links are never followed)")
            case "ENXIO": return .reject("it is a socket")
            default: return .reject("it cannot be opened: \(error.reason) (\(error.codeName))")
            }
        }
        defer { fd.close() }
        guard let status = try? fd.status(path: path) else { return .ignore }
        if mayBeMidPublish(status, now: now) { return .later }
        if let problem = problem(with: status, limit: limit) { return .reject(problem) }
        let bytes: [UInt8]
        do { bytes = try fd.readAll(limit: limit, path: path) } catch { return .reject(reason(error)) }
        do {
            let record = try JobRecord(parsing: bytes, path: layout.relative(path))
            if !accepts(record) { return .reject(unknownTypeReason(record.handlerType)) }
            return .job(
                IndexEntry(
                    id: id, type: record.type, priority: record.priority,
                    arrival: status.changeTimeNanoseconds, notBefore: record.notBefore))
        } catch {
            let age = now - Double(status.modificationTimeNanoseconds) / 1e9
            return age < settlingSeconds ? .later : .reject(reason(error))
        }
    }
}
