import SpoolJSON
import SpoolSystem
import Synchronization

/// What a handler is asked to do: one attempt of one job.
public struct HandlerInvocation: Sendable {
    public let id: String
    public let type: String
    /// 1 for the first attempt.
    public let attempt: Int
    /// The job's record as it was when the attempt started.
    public let record: JobRecord
    /// Absolute path of the job's file in `processing/` (the handler's standard input).
    public let recordPath: String
    /// Absolute path where the result will be once the job ends.
    public let resultPath: String
    /// Wall-clock limit for this attempt, if any.
    public let timeout: Double?
    /// Memory, CPU, descriptor and output limits for this attempt.
    public let limits: ResourceLimits
    /// The uid that submitted the job: the owner of the file dropped in `queued/` (carried in
    /// the record's `ownerUID` once the processor has rewritten the file). Never read from
    /// anything a producer writes inside the JSON.
    public let ownerID: UInt32
}

/// How an attempt ended, as the handler reports it.
public enum HandlerResult: Sendable, Equatable {
    /// Exit 0: the job is done.
    case success
    /// Exit 75 (EX_TEMPFAIL): try again later; does not use up the attempt budget.
    case temporaryFailure(String)
    /// Any other failure; retried while attempts remain. `reason` reads like "exit 3".
    case failure(reason: String, exitCode: Int32?, signal: Int32?)
    /// Killed after running past its timeout.
    case timedOut(seconds: Double)
    /// Stopped by the processor (shutdown); goes back to the queue without using up an attempt.
    case interrupted
    /// Stopped because a user cancelled the job.
    case cancelled(CancelRequest)
}

/// What a handler reports while it runs.
enum ProgressUpdate: Sendable {
    case percent(Int)
    case records(RecordCounts)
    /// A field of the record set by a built-in handler (a report's role, say).
    case field(String, JSONValue)
    /// Nothing new: write what the rate limit held back, if its time has come.
    case flush
}

/// Why the processor wants a running handler to stop.
public enum StopRequest: Sendable, Equatable {
    case shutdown
    case cancel(CancelRequest)
}

/// What a handler can do while it runs: stream its result, report progress, write to the job's
/// log, and notice that it should stop. Handed to in-process handlers and used by the exec
/// handler on their behalf.
public final class HandlerContext: Sendable {
    /// The open, in-progress result file. What is written here becomes the job's result.
    public let resultOutput: FileDescriptor
    /// Seconds between SIGTERM and SIGKILL when stopping a process.
    public let killGrace: Double
    /// The path of `resultOutput` in tmp/, which the processor publishes by rename when the
    /// job ends; a built-in handler that builds its result elsewhere renames it over this path.
    let resultTemporaryPath: String?
    let layout: SpoolLayout
    let id: String
    /// What ties the job's processes to it (its cgroup, death with the processor).
    let processTies: JobProcessTies
    /// The running record, open, when it may not have landed in `processing/` yet (see
    /// `RecordLanding`): what a handler reads as the job.
    let recordInput: FileDescriptor?
    private let progressSink: @Sendable (ProgressUpdate) -> Void
    private let stop = Mutex<StopRequest?>(nil)
    /// The lock of a result that replaced `resultOutput` (see `replaceResult`).
    private let replacementLock = Mutex<FileDescriptor?>(nil)

    init(
        resultOutput: FileDescriptor, resultTemporaryPath: String? = nil, killGrace: Double, layout: SpoolLayout,
        id: String, processTies: JobProcessTies = JobProcessTies(), recordInput: FileDescriptor? = nil,
        progressSink: @escaping @Sendable (ProgressUpdate) -> Void
    ) {
        self.recordInput = recordInput
        self.resultOutput = resultOutput
        self.resultTemporaryPath = resultTemporaryPath
        self.killGrace = killGrace
        self.layout = layout
        self.id = id
        self.processTies = processTies
        self.progressSink = progressSink
    }

    /// The job's running record, open for reading from its start (a handler's standard input);
    /// the caller closes it.
    func openRecord(_ invocation: HandlerInvocation) throws(SystemError) -> FileDescriptor {
        if let recordInput {
            // A duplicate shares the offset: rewind, so each reader (one at a time) reads it all.
            let duplicate = try recordInput.duplicate(path: invocation.recordPath)
            do { _ = try duplicate.seek(to: 0, path: invocation.recordPath) } catch {
                duplicate.close()
                throw error
            }
            return duplicate
        }
        return try FileSystem.openForReadingSafely(invocation.recordPath)
    }

    /// Makes the file at `path` the attempt's result, renamed over the in-progress result file.
    /// The result file's lock says that the job's claim is alive (docs/FORMAT.md, section 6), so
    /// the new file is locked before it takes the name, and stays locked until the job has moved on.
    func replaceResult(with path: String) throws(SystemError) {
        guard let resultTemporaryPath else {
            throw SystemError("replace the result of job \(id) with", path: path, code: ErrnoCode.invalid)
        }
        let lock = try FileSystem.openForReadingSafely(path)
        do throws(SystemError) {
            _ = try lock.lockExclusive(path: path)
            try FileSystem.rename(path, to: resultTemporaryPath)
        } catch {
            lock.close()
            throw error
        }
        replacementLock.withLock { held in
            held?.close()
            held = lock
        }
    }

    /// Releases the lock of a replaced result, once the job has left `processing/`.
    func releaseReplacedResult() {
        replacementLock.withLock { held in
            held?.close()
            held = nil
        }
    }

    /// Reports progress (0–100); recorded in the job's file, at most a few times a second.
    public func reportProgress(_ percent: Int) { progressSink(.percent(min(100, max(0, percent)))) }

    /// Reports record counts (`processed`, `succeeded`, `failed`, `total`): kept in the job's
    /// `records`, summed into its parent's when it is a child batch job.
    public func reportRecords(_ counts: RecordCounts) { progressSink(.records(counts)) }

    /// Sets a field of the job's record, written with the next progress update or the outcome.
    func annotate(_ key: String, _ value: JSONValue) { progressSink(.field(key, value)) }

    /// Records a progress value that the rate limit held back, if its time has come.
    public func flushProgress() { progressSink(.flush) }

    /// Appends bytes to the result.
    public func writeResult(_ bytes: [UInt8]) throws(SystemError) { try resultOutput.writeAll(bytes) }

    /// Appends a line to the job's log.
    public func log(_ level: JobLog.Level, _ message: String) { JobLog.append(layout, id: id, level, message) }

    /// Set when the processor wants the attempt to end; in-process handlers should check it.
    public var stopRequest: StopRequest? { stop.withLock { $0 } }

    func requestStop(_ request: StopRequest) { stop.withLock { $0 = $0 ?? request } }
}

/// A handler that runs inside the processor (for programs that embed SpoolKit). It runs on a
/// worker thread of its own, so it may block.
public protocol JobHandler: Sendable {
    func run(_ invocation: HandlerInvocation, context: HandlerContext) -> HandlerResult
}

/// Handlers built into `spool` and selectable with `"builtin"` in spool.json.
public enum BuiltinHandlers {
    public static let names = ["noop", "report"]

    /// The built-in handler for a type's configuration; nil for an unknown name.
    /// `user`: the account its programs (a report's source command) switch to; nil: none.
    static func handler(
        named name: String, configuration: HandlerConfiguration, spool: SpoolConfiguration, root: String,
        user: UserAccount? = nil
    ) -> (any JobHandler)? {
        switch name {
        case "noop": return NoopHandler()
        case "report":
            return ReportHandler(
                settings: configuration.report ?? ReportSettings(), masking: spool.masking, spoolRoot: root,
                user: user)
        default: return nil
        }
    }
}

/// Does nothing and succeeds: for benchmarks and for testing the spool itself.
public struct NoopHandler: JobHandler {
    public init() {}
    public func run(_ invocation: HandlerInvocation, context: HandlerContext) -> HandlerResult { .success }
}
