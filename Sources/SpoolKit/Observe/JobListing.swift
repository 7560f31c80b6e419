import SpoolJSON
import SpoolSystem

/// One job as `list` and `show` present it. A file that cannot be read as a job (bad input kept
/// in `failed/`) is still listed, with the reason.
public struct JobSummary: Sendable {
    public let id: String
    public let state: JobState
    /// The record, when the file is a readable job.
    public let record: JobRecord?
    /// Why the file is not a readable job (from its log when it was rejected), if it is not.
    public let problem: String?

    public var type: String? { record?.type }

    /// The error to show: the record's, else the rejection reason.
    public var error: String? { record?.error ?? problem }

    /// A JSON object for `--json` output: the record's fields plus `id` and `state`.
    public var jsonValue: JSONValue {
        var object = JSONObject([("id", .string(id)), ("state", .string(state.displayName))])
        if let record {
            for (key, value) in record.fields.members where key != "id" && key != "state" { object[key] = value }
            if record.error == nil, let problem { object["error"] = .string(problem) }
        } else if let problem {
            object["error"] = .string(problem)
        }
        return .object(object)
    }
}

/// Reads jobs for `list`, `show` and `stats`, trusting nothing in the files: entries are
/// lstat'ed first, only regular files are opened (never through a link, never blocking on a
/// FIFO), and reads stop at the size limit.
public struct JobListing: Sendable {
    public let layout: SpoolLayout
    public let sizeLimit: Int

    public init(spool: Spool) {
        layout = spool.layout
        sizeLimit = max(spool.configuration.maximumJobBytes, 1024 * 1024)
    }

    /// Ids of the job files in a state directory, sorted.
    public func ids(in state: JobState) -> [String] { unsortedIDs(in: state).sorted() }

    /// Ids of the job files in a state directory, in directory order (cheaper on large spools).
    public func unsortedIDs(in state: JobState) -> [String] {
        let entries = (try? FileSystem.listDirectory(layout.directory(state))) ?? []
        return entries.compactMap { JobID.id(fromFileName: $0.rawName) }
    }

    /// Seconds the job has waited in `queued/` (since its file arrived there: its ctime); nil
    /// when it is gone.
    public func queuedAge(of id: String, now: Double) -> Double? {
        guard let status = try? FileSystem.statusNotFollowing(layout.jobPath(id, in: .queued)) else { return nil }
        return max(0, now - Double(status.changeTimeNanoseconds) / 1e9)
    }

    /// Every job in the given states, in state order then id order.
    public func jobs(in states: [JobState]) -> [JobSummary] {
        states.flatMap { state in ids(in: state).map { summary(id: $0, state: state) } }
    }

    /// Reads one job in a known state.
    public func summary(id: String, state: JobState) -> JobSummary {
        let path = layout.jobPath(id, in: state)
        do {
            guard let status = try FileSystem.statusNotFollowing(path) else {
                return JobSummary(id: id, state: state, record: nil, problem: "it disappeared while being read")
            }
            if let problem = Intake.problem(with: status, limit: sizeLimit) {
                return JobSummary(id: id, state: state, record: nil, problem: rejectionReason(id) ?? problem)
            }
            let bytes = try FileSystem.readFile(path, limit: sizeLimit)
            let record = try JobRecord(parsing: bytes, path: layout.relative(path))
            let problem = state == .failed && record.error == nil ? rejectionReason(id) : nil
            return JobSummary(id: id, state: state, record: record, problem: problem)
        } catch let error as SpoolError {
            return JobSummary(id: id, state: state, record: nil, problem: rejectionReason(id) ?? Intake.reason(error))
        } catch {
            return JobSummary(id: id, state: state, record: nil, problem: "\(error)")
        }
    }

    /// The reason logged when the entry was rejected, if it was.
    public func rejectionReason(_ id: String) -> String? {
        logLines(id).last { $0.contains(" ERROR rejected ") }.map { line in
            guard let range = line.range(of: " ERROR ") else { return line }
            return String(line[range.upperBound...])
        }
    }

    /// The job's log, line by line (at most the last `limit` bytes).
    public func logLines(_ id: String, limit: Int = 256 * 1024) -> [String] {
        (try? readLog(id, limit: limit)) ?? []
    }

    /// The job's log, line by line (at most the last `limit` bytes): empty when there is none,
    /// an error naming the path when something else is in its place (a FIFO, a link, `logs/`
    /// made a link), which is never followed or waited on.
    public func readLog(_ id: String, limit: Int = 256 * 1024) throws(SpoolError) -> [String] {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readFileInSpool(layout.logPath(id), root: layout.root, limit: 64 * 1024 * 1024)
        } catch {
            if case .system(let failure) = error, failure.isNotFound { return [] }
            throw error
        }
        return String(decoding: bytes.suffix(limit), as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
