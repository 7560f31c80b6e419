import SpoolSystem

/// Where a report's records come from: a file named by the job beneath the type's data
/// directory, or the standard output of the type's source command.
final class ReportSource {
    enum Kind {
        case file(path: String, size: Int)
        case command(SpawnedProcess)
    }

    let kind: Kind
    let descriptor: FileDescriptor
    let format: RecordFormat
    /// What the source is, for messages and the checkpoint's fingerprint.
    let identity: String
    let displayName: String
    private var closed = false
    private var termination: ProcessTermination?

    private init(kind: Kind, descriptor: FileDescriptor, format: RecordFormat, identity: String, displayName: String) {
        self.kind = kind
        self.descriptor = descriptor
        self.format = format
        self.identity = identity
        self.displayName = displayName
    }

    var isSeekable: Bool {
        if case .file = kind { return true }
        return false
    }

    var size: Int? {
        if case .file(_, let size) = kind { return size }
        return nil
    }

    /// Opens `relativePath` beneath `dataDirectory`; the format comes from `format`, else the extension.
    static func file(
        _ relativePath: String, dataDirectory: String, format: RecordFormat?
    ) throws(ReportFailure) -> ReportSource {
        guard let format = format ?? RecordFormat.implied(by: relativePath) else {
            throw .permanent(
                "cannot tell the format of '\(relativePath)': name it .csv or .ndjson, or set payload.inputFormat")
        }
        let descriptor: FileDescriptor
        do { descriptor = try FileSystem.openReadingBeneath(dataDirectory, relativePath) } catch {
            switch error {
            case .refused: throw .permanent("\(error) (data directory \(dataDirectory))")
            case .system(let system) where system.isNotFound:
                throw .permanent("no file '\(relativePath)' in the data directory \(dataDirectory)")
            case .system: throw .retryable("\(error)")
            }
        }
        let status: FileStatus
        do { status = try descriptor.status(path: relativePath) } catch {
            descriptor.close()
            throw .retryable("\(error)")
        }
        let identity = "file:\(relativePath):\(status.size):\(status.modificationTimeNanoseconds):\(status.inode)"
        return ReportSource(
            kind: .file(path: relativePath, size: status.size), descriptor: descriptor, format: format,
            identity: identity, displayName: relativePath)
    }

    /// Starts the source command: argv as configured (a relative program path with a slash is
    /// relative to the spool), in the spool directory and its own process group, with the job's
    /// record on standard input, a pipe as standard output and the job's log as standard error;
    /// as `user` when given (the type's user under a root processor), the pipe then being its.
    static func command(
        _ arguments: [String], format: RecordFormat, invocation: HandlerInvocation, context: HandlerContext,
        spoolRoot: String, log: FileDescriptor, user: UserAccount? = nil
    ) throws(ReportFailure) -> ReportSource {
        var argv = arguments
        if argv[0].contains("/") && !argv[0].hasPrefix("/") { argv[0] = spoolRoot + "/" + argv[0] }
        let input: FileDescriptor
        do { input = try context.openRecord(invocation) } catch {
            throw .retryable("could not open the job for the source command: \(error)")
        }
        defer { input.close() }
        let pipe: (read: FileDescriptor, write: FileDescriptor)
        do { pipe = try FileDescriptor.pipe() } catch { throw .retryable("could not create a pipe: \(error)") }
        if let user {
            do { try pipe.write.changeOwner(uid: user.uid, gid: user.gid) } catch {
                pipe.read.close()
                pipe.write.close()
                throw .retryable("could not give the source command's pipe to \(user): \(error)")
            }
        }
        var environment = ExecHandler.environment(
            FileSystem.currentEnvironment().filter { !$0.hasPrefix("SPOOL_") }, as: user)
        environment += [
            "SPOOL_JOB_ID=" + invocation.id, "SPOOL_JOB_TYPE=" + invocation.type,
            "SPOOL_ATTEMPT=" + String(invocation.attempt), "SPOOL_DIR=" + spoolRoot,
            "SPOOL_JOB_FILE=" + invocation.recordPath,
        ]
        let process: SpawnedProcess
        do {
            process = try ProcessSpawner.spawn(
                arguments: argv, environment: environment, workingDirectory: spoolRoot,
                descriptors: [input, pipe.write, log], user: user, ties: context.processTies)
        } catch {
            pipe.read.close()
            pipe.write.close()
            throw .retryable(
                "could not start the source command '\(argv[0])': \(error.reason) (\(error.codeName))"
                    + ExecHandler.accessHint(error, user: user, workingDirectory: spoolRoot))
        }
        pipe.write.close()
        return ReportSource(
            kind: .command(process), descriptor: pipe.read, format: format,
            identity: "command:" + arguments.joined(separator: "\u{1F}"), displayName: "the source command")
    }

    /// Closes the source. A command still running is stopped (its whole group), then reaped;
    /// returns how it ended, nil for a file.
    @discardableResult
    func close(stopping: Bool) -> ProcessTermination? {
        guard !closed else { return termination }
        closed = true
        descriptor.close()
        guard case .command(let process) = kind else { return nil }
        if stopping { process.killGroup() }
        // A command that closed its output but goes on running gets a bounded time to exit,
        // then is killed: the report (and its timeout, and a cancel) must not wait on it.
        var ended: ProcessTermination?
        let deadline = ProcessInfoLite.monotonicNow() + Self.exitGrace
        while ended == nil && ProcessInfoLite.monotonicNow() < deadline {
            if let (termination, _) = process.reapIfExited() {
                ended = termination
            } else {
                ProcessInfoLite.sleep(seconds: 0.01)
            }
        }
        if ended == nil {
            process.killGroup()
            ended = process.waitForExit().0
        }
        let finalTermination = ended ?? .exited(-1)
        // Nothing of the source may outlive the report: stray children go with the leader.
        process.killGroup()
        process.closeDescriptors()
        termination = finalTermination
        return finalTermination
    }

    /// Seconds a source command may run on after closing its output.
    static let exitGrace = 10.0
}

/// Why a report attempt failed: for good (bad input, a refused path or role), or worth retrying.
enum ReportFailure: Error, CustomStringConvertible {
    case permanent(String)
    case retryable(String)

    var description: String {
        switch self {
        case .permanent(let reason), .retryable(let reason): return reason
        }
    }

    var handlerResult: HandlerResult {
        switch self {
        // 65 (EX_DATAERR) is a permanent-failure code: the job fails at once, without retries.
        case .permanent(let reason): return .failure(reason: reason, exitCode: 65, signal: nil)
        case .retryable(let reason): return .failure(reason: reason, exitCode: nil, signal: nil)
        }
    }
}
