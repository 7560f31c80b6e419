import SpoolJSON
import SpoolSystem

/// Runs a configured command for each job: spawned directly with an argv (never a shell), in its
/// own process group, with
///
/// - fd 0: the job's record (JSON), fd 1: the result file, fd 2: a pipe whose lines go to the job's log,
/// - fd 3: the progress channel (`echo "progress 40" >&3`),
///
/// and `SPOOL_JOB_ID`, `SPOOL_JOB_TYPE`, `SPOOL_ATTEMPT`, `SPOOL_DIR`, `SPOOL_JOB_FILE`,
/// `SPOOL_RESULT` and `SPOOL_PROGRESS_FD` in its environment. With a `user` (a root processor
/// and a type with a `user`), it runs as that account, with its groups, and with its HOME, USER
/// and LOGNAME; its stderr and progress pipes are given to it. A timeout or a stop sends SIGTERM
/// to the group, then SIGKILL after the grace period; when the handler exits, whatever is left
/// of its group (and of its cgroup, see `JobContainment`) is killed, so nothing of a job outlives it.
public struct ExecHandler: JobHandler {
    public let arguments: [String]
    public let environment: [(String, String)]
    public let workingDirectory: String
    public let spoolRoot: String
    /// The account the handler switches to before exec; nil: it runs as the processor.
    public let user: UserAccount?
    private let baseEnvironment: [String]

    public init(
        arguments: [String], environment: [(String, String)], workingDirectory: String?, spoolRoot: String,
        user: UserAccount? = nil
    ) {
        // A relative program path (with a slash) is relative to the spool, like the working directory.
        var resolved = arguments
        if let program = arguments.first, program.contains("/"), !program.hasPrefix("/") {
            resolved[0] = spoolRoot + "/" + program
        }
        var inherited = FileSystem.currentEnvironment().filter { !$0.hasPrefix("SPOOL_") }
        inherited = Self.environment(inherited, as: user)
        // The type's env overrides the processor's (one entry per name, or getenv picks the first).
        let overridden = Set(environment.map { $0.0 + "=" })
        inherited.removeAll { entry in overridden.contains { entry.hasPrefix($0) } }
        if let program = resolved.first, !program.contains("/") {
            let searchPath =
                environment.last { $0.0 == "PATH" }?.1
                ?? inherited.first { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? "/usr/bin:/bin"
            if let found = ExecHandler.findProgram(program, in: searchPath) { resolved[0] = found }
        }
        self.arguments = resolved
        self.environment = environment
        if let workingDirectory {
            self.workingDirectory =
                workingDirectory.hasPrefix("/") ? workingDirectory : spoolRoot + "/" + workingDirectory
        } else {
            self.workingDirectory = spoolRoot
        }
        self.spoolRoot = spoolRoot
        self.user = user
        self.baseEnvironment = inherited
    }

    /// The processor's environment as `user`'s: its HOME, USER and LOGNAME instead of the
    /// processor's (a type's `env` can still set them).
    static func environment(_ inherited: [String], as user: UserAccount?) -> [String] {
        guard let user else { return inherited }
        let replaced = ["HOME=", "USER=", "LOGNAME="]
        return inherited.filter { entry in !replaced.contains { entry.hasPrefix($0) } }
            + ["HOME=" + user.home, "USER=" + user.name, "LOGNAME=" + user.name]
    }

    /// The first executable named `program` in a PATH-style list of directories.
    static func findProgram(_ program: String, in searchPath: String) -> String? {
        for directory in searchPath.split(separator: ":") where !directory.isEmpty {
            let candidate = directory + "/" + program
            if FileSystem.isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    public func run(_ invocation: HandlerInvocation, context: HandlerContext) -> HandlerResult {
        let input: FileDescriptor
        let log: FileDescriptor
        let channels: HandlerChannels
        do {
            input = try context.openRecord(invocation)
        } catch {
            return .failure(reason: "could not open the job for the handler: \(error)", exitCode: nil, signal: nil)
        }
        defer { input.close() }
        do { log = try JobLog.openForHandler(context.layout, id: invocation.id) } catch {
            return .failure(reason: "could not open the job's log: \(error)", exitCode: nil, signal: nil)
        }
        defer { log.close() }
        do { channels = try HandlerChannels(log: log, logLimit: invocation.limits.logBytes) } catch {
            return .failure(reason: "could not create the handler's pipes: \(error)", exitCode: nil, signal: nil)
        }
        defer { channels.close() }
        if let user {
            // So the handler can reopen them (/dev/stderr, /proc/self/fd/3) as well as use them.
            do {
                try channels.errors.write.changeOwner(uid: user.uid, gid: user.gid)
                try channels.progress.write.changeOwner(uid: user.uid, gid: user.gid)
            } catch {
                channels.closeWriteEnds()
                return .failure(
                    reason: "could not give the handler's pipes to \(user): \(error)", exitCode: nil, signal: nil)
            }
        }

        // Nothing else: not the processor's lock, not another job's files. The result file is
        // what holds the job's claim (its lock) while any process of the job lives.
        let descriptors = [input, context.resultOutput, channels.errors.write, channels.progress.write]
        let process: SpawnedProcess
        do {
            var limits: [ResourceLimit] = []
            if let seconds = invocation.limits.cpuSeconds {
                limits += ResourceLimit.cpuSeconds(seconds, grace: max(1, Int(context.killGrace.rounded(.up))))
            }
            if let count = invocation.limits.openFiles { limits.append(.openFiles(count)) }
            process = try ProcessSpawner.spawn(
                arguments: arguments, environment: environmentFor(invocation),
                workingDirectory: workingDirectory, descriptors: descriptors, limits: limits, user: user,
                ties: context.processTies)
        } catch {
            channels.closeWriteEnds()
            return .failure(
                reason: "could not start '\(arguments[0])': \(error.reason) (\(error.codeName))"
                    + Self.accessHint(error, user: user, workingDirectory: workingDirectory),
                exitCode: nil, signal: nil)
        }
        channels.closeWriteEnds()
        defer { process.closeDescriptors() }
        return supervise(process, invocation: invocation, context: context, channels: channels)
    }

    /// What to check when a handler that switches users cannot start for lack of permission.
    static func accessHint(_ error: SystemError, user: UserAccount?, workingDirectory: String?) -> String {
        guard let user, error.code == ErrnoCode.accessDenied || error.code == ErrnoCode.notPermitted else {
            return ""
        }
        return "; running as user \(user), it needs search permission on every directory down to "
            + (workingDirectory.map { "its working directory \($0)" } ?? "the program")
            + " and execute permission on the program"
    }

    private func environmentFor(_ invocation: HandlerInvocation) -> [String] {
        var result = baseEnvironment
        for (name, value) in environment { result.append(name + "=" + value) }
        result.append("SPOOL_JOB_ID=" + invocation.id)
        result.append("SPOOL_JOB_TYPE=" + invocation.type)
        result.append("SPOOL_ATTEMPT=" + String(invocation.attempt))
        result.append("SPOOL_DIR=" + spoolRoot)
        result.append("SPOOL_JOB_FILE=" + invocation.recordPath)
        result.append("SPOOL_RESULT=" + invocation.resultPath)
        result.append("SPOOL_PROGRESS_FD=3")
        return result
    }

    /// The memory or output limit the running handler has gone over, if any.
    private func exceededMeasuredLimit(
        _ process: SpawnedProcess, _ limits: ResourceLimits, _ context: HandlerContext, channels: HandlerChannels
    ) -> String? {
        if let cap = limits.logBytes, channels.errorBytes > cap {
            return "log output exceeded \(ResourceLimits.describe(bytes: cap))"
        }
        if let cap = limits.outputBytes, let size = try? context.resultOutput.status().size, size > cap {
            return "output exceeded \(ResourceLimits.describe(bytes: cap))"
        }
        if let cap = limits.memoryBytes, ProcessTable.residentBytes(ofProcessGroup: process.pid) > cap {
            return "exceeded memory limit \(ResourceLimits.describe(bytes: cap))"
        }
        return nil
    }

    /// Waits for the handler, relaying progress, enforcing the timeout and stop requests.
    private func supervise(
        _ process: SpawnedProcess, invocation: HandlerInvocation, context: HandlerContext,
        channels: HandlerChannels
    ) -> HandlerResult {
        let started = ProcessInfoLite.monotonicNow()
        var terminateSentAt: Double?
        var killSent = false
        var timedOut = false
        var interrupted = false
        var termination: ProcessTermination
        var usage: ProcessUsage
        // Set when the supervisor killed the handler for going over a memory, output or log limit.
        var exceededLimit: String?

        while true {
            let now = ProcessInfoLite.monotonicNow()
            var waitSeconds = 0.2
            if terminateSentAt == nil {
                if let timeout = invocation.timeout, now - started >= timeout {
                    timedOut = true
                } else if context.stopRequest != nil {
                    interrupted = true
                }
                if timedOut || interrupted {
                    process.terminateGroup()
                    terminateSentAt = now
                } else if let timeout = invocation.timeout {
                    waitSeconds = min(waitSeconds, started + timeout - now)
                }
            }
            if let sentAt = terminateSentAt, !killSent {
                if now - sentAt >= context.killGrace {
                    process.killGroup()
                    killSent = true
                } else {
                    waitSeconds = min(waitSeconds, sentAt + context.killGrace - now)
                }
            }
            if exceededLimit == nil,
                let reason = exceededMeasuredLimit(process, invocation.limits, context, channels: channels)
            {
                // Over a limit: no grace period, the whole group goes at once.
                exceededLimit = reason
                process.killGroup()
                killSent = true
            }
            if invocation.limits.memoryBytes != nil || invocation.limits.outputBytes != nil
                || invocation.limits.logBytes != nil
            {
                waitSeconds = min(waitSeconds, 0.1)
            }
            if process.exitDescriptor == nil { waitSeconds = min(waitSeconds, 0.01) }
            var watched: [FileDescriptor] = []
            if let exit = process.exitDescriptor { watched.append(exit) }
            watched += channels.openReadEnds
            _ = Poll.waitReadable(watched, timeoutMilliseconds: Int32(max(1, (waitSeconds * 1000).rounded(.up))))
            channels.relay(context)
            context.flushProgress()
            if let (ended, resources) = process.reapIfExited() {
                termination = ended
                usage = resources
                break
            }
        }
        // Nothing of the job may outlive it: stray background children go with the leader.
        process.killGroup()
        // What the handler cost, from wait4's rusage: kept in the record and the event journal.
        context.annotate("cpuSeconds", JSONValue(Double(Int((usage.userSeconds + usage.systemSeconds) * 1000)) / 1000))
        context.annotate("maxRSS", JSONValue(usage.maximumResidentKilobytes * 1024))
        channels.finish(context)

        if let exceededLimit { return .failure(reason: exceededLimit, exitCode: nil, signal: Signals.kill) }
        if let seconds = invocation.limits.cpuSeconds, case .signalled(let signal) = termination,
            signal == Signals.cpuTimeExceeded
                || (signal == Signals.kill && !killSent && usage.userSeconds + usage.systemSeconds >= Double(seconds))
        {
            return .failure(reason: "exceeded CPU limit \(seconds) s", exitCode: nil, signal: signal)
        }
        if interrupted, case .cancel(let request) = context.stopRequest { return .cancelled(request) }
        if interrupted { return .interrupted }
        if timedOut { return .timedOut(seconds: invocation.timeout ?? 0) }
        switch termination {
        case .exited(0): return .success
        case .exited(75): return .temporaryFailure("exit 75 (temporary failure)")
        case .exited(let code): return .failure(reason: "exit \(code)", exitCode: code, signal: nil)
        case .signalled(let signal):
            return .failure(reason: "killed by \(Signals.name(of: signal))", exitCode: nil, signal: signal)
        }
    }
}
