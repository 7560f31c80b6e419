import CSpoolShims
import Glibc

/// How a child process ended, decoded from its wait status.
public enum ProcessTermination: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signalled(Int32)

    /// Decodes a wait(2) status by hand: the W* macros are not imported into Swift.
    package init(waitStatus status: Int32) {
        let low = status & 0x7f
        if low == 0 {
            self = .exited((status >> 8) & 0xff)
        } else {
            self = .signalled(low)
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): return "exit \(code)"
        case .signalled(let signal): return "killed by \(Signals.name(of: signal))"
        }
    }
}

/// Resource usage of a reaped child (from wait4(2)).
public struct ProcessUsage: Sendable, Equatable {
    public var userSeconds: Double
    public var systemSeconds: Double
    public var maximumResidentKilobytes: Int

    package init(_ usage: rusage) {
        userSeconds = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1_000_000
        systemSeconds = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1_000_000
        maximumResidentKilobytes = Int(usage.ru_maxrss)
    }
}

/// Signal names for messages.
public enum Signals {
    public static func name(of signal: Int32) -> String {
        switch signal {
        case SIGHUP: return "SIGHUP"
        case SIGINT: return "SIGINT"
        case SIGQUIT: return "SIGQUIT"
        case SIGILL: return "SIGILL"
        case SIGTRAP: return "SIGTRAP"
        case SIGABRT: return "SIGABRT"
        case SIGBUS: return "SIGBUS"
        case SIGFPE: return "SIGFPE"
        case SIGKILL: return "SIGKILL"
        case SIGUSR1: return "SIGUSR1"
        case SIGSEGV: return "SIGSEGV"
        case SIGUSR2: return "SIGUSR2"
        case SIGPIPE: return "SIGPIPE"
        case SIGALRM: return "SIGALRM"
        case SIGTERM: return "SIGTERM"
        case SIGXCPU: return "SIGXCPU"
        case SIGXFSZ: return "SIGXFSZ"
        default: return "signal \(signal)"
        }
    }
}

/// A spawned child process: its pid (also its process group id) and, where the kernel has
/// pidfd_open, a descriptor that becomes readable when it exits.
public struct SpawnedProcess: Sendable {
    public let pid: pid_t
    package let exitDescriptor: FileDescriptor?

    /// Sends a signal to the child's whole process group.
    public func signalGroup(_ signal: Int32) {
        _ = Glibc.kill(-pid, signal)
    }

    /// Reaps the child if it has exited; nil while it still runs. Never blocks.
    package func reapIfExited() -> (ProcessTermination, ProcessUsage)? {
        var status: Int32 = 0
        var usage = rusage()
        let result = retryingInterrupts { wait4(pid, &status, WNOHANG, &usage) }
        switch result {
        case .success(let reaped) where reaped == pid:
            SpawnedChildren.forget(pid)
            return (ProcessTermination(waitStatus: status), ProcessUsage(usage))
        case .success:
            return nil
        case .failure:
            // ECHILD: someone else reaped it (should not happen); report it as gone.
            return (.exited(-1), ProcessUsage(rusage()))
        }
    }

    /// Blocks until the child exits and reaps it. Call only on a dedicated thread.
    package func waitForExit() -> (ProcessTermination, ProcessUsage) {
        var status: Int32 = 0
        var usage = rusage()
        let result = retryingInterrupts { wait4(pid, &status, 0, &usage) }
        SpawnedChildren.forget(pid)
        if case .failure = result { return (.exited(-1), ProcessUsage(rusage())) }
        return (ProcessTermination(waitStatus: status), ProcessUsage(usage))
    }

    package func closeDescriptors() { exitDescriptor?.close() }
}

/// A resource limit set in a child before it execs the handler (setrlimit(2)).
public struct ResourceLimit: Sendable, Equatable {
    public let resource: Int32
    public let soft: UInt64
    public let hard: UInt64

    public init(resource: Int32, soft: UInt64, hard: UInt64) {
        self.resource = resource
        self.soft = soft
        self.hard = hard
    }
}

/// What ties a job's process to the job, so that nothing of it outlives the job or its processor.
public struct JobProcessTies: Sendable {
    /// An open `cgroup.procs` of the job's cgroup: the child joins it before anything else.
    public var controlGroupProcesses: FileDescriptor?
    /// SIGKILL when the spawning thread (a worker, which lives as long as its processor) dies:
    /// a processor killed with -9 takes its handlers with it.
    public var killedWithSpawningThread: Bool

    public init(controlGroupProcesses: FileDescriptor? = nil, killedWithSpawningThread: Bool = false) {
        self.controlGroupProcesses = controlGroupProcesses
        self.killedWithSpawningThread = killedWithSpawningThread
    }
}

/// Spawns handlers: never through a shell, each in its own process group, with an empty signal
/// mask and default dispositions (libdispatch threads block SIGTERM and friends, and a child
/// would otherwise inherit that), only the descriptors it is handed, and its resource limits in
/// force before its first instruction. posix_spawn cannot set limits, and prlimit after the
/// spawn races the handler; so the C shim does vfork, set-up, exec. With `user`, the child
/// switches to that account (groups, gid, uid) after the limits and before its working
/// directory and exec; only a root process can do that.
public enum ProcessSpawner {
    /// Signals whose dispositions the child gets back as defaults even where this process ignores them.
    private static let defaultedSignals: [Int32] = [
        SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD,
    ]

    /// Spawns `arguments[0]` (searched in PATH when it has no slash) with `arguments` as argv.
    /// `descriptors[i]` becomes the child's descriptor i; every other descriptor is closed.
    package static func spawn(
        arguments: [String],
        environment: [String],
        workingDirectory: String?,
        descriptors: [FileDescriptor],
        limits: [ResourceLimit] = [],
        user: UserAccount? = nil,
        ties: JobProcessTies = JobProcessTies()
    ) throws(SystemError) -> SpawnedProcess {
        precondition(!arguments.isEmpty, "a handler command needs at least one argument")
        precondition(descriptors.count <= 64, "at most 64 descriptors can be handed to a child")
        let program = arguments[0]
        let candidates: [String]
        if program.contains("/") {
            candidates = [program]
        } else {
            let searchPath = environmentValue("PATH") ?? "/usr/local/bin:/usr/bin:/bin"
            candidates = searchPath.split(separator: ":", omittingEmptySubsequences: false).map {
                ($0.isEmpty ? "." : String($0)) + "/" + program
            }
        }
        let rawDescriptors = descriptors.map(\.rawValue)
        let resources = limits.map(\.resource)
        let values = limits.map { rlimit(rlim_cur: rlim_t($0.soft), rlim_max: rlim_t($0.hard)) }
        // The user's groups, in memory that outlives the spawn (the child reads it before exec).
        let groups = UnsafeMutableBufferPointer<gid_t>.allocate(capacity: max(1, user?.groups.count ?? 0))
        defer { groups.deallocate() }
        if let user { _ = groups.initialize(from: user.groups) }
        var pid: pid_t = 0
        let code = withCStrings(candidates) { candidatePointers in
            withCStrings(arguments) { argv in
                withCStrings(environment) { envp in
                    withOptionalCString(workingDirectory) { directory in
                        var request = spool_spawn_request(
                            candidates: UnsafeRawPointer(candidatePointers).assumingMemoryBound(
                                to: UnsafePointer<CChar>?.self),
                            candidate_count: Int32(candidates.count),
                            argv: argv, envp: envp,
                            descriptors: nil, descriptor_count: Int32(rawDescriptors.count),
                            working_directory: directory,
                            limit_resources: nil, limit_values: nil, limit_count: Int32(limits.count),
                            default_signals: nil, default_signal_count: Int32(defaultedSignals.count),
                            set_identity: user == nil ? 0 : 1, uid: user?.uid ?? 0, gid: user?.gid ?? 0,
                            groups: groups.baseAddress, group_count: Int32(user?.groups.count ?? 0),
                            cgroup_procs_fd: ties.controlGroupProcesses?.rawValue ?? -1,
                            parent_death_signal: ties.killedWithSpawningThread ? SIGKILL : 0,
                            parent_pid: getpid())
                        return rawDescriptors.withUnsafeBufferPointer { descriptorBuffer in
                            resources.withUnsafeBufferPointer { resourceBuffer in
                                values.withUnsafeBufferPointer { valueBuffer in
                                    defaultedSignals.withUnsafeBufferPointer { signalBuffer in
                                        request.descriptors = descriptorBuffer.baseAddress
                                        request.limit_resources = resourceBuffer.baseAddress
                                        request.limit_values = valueBuffer.baseAddress
                                        request.default_signals = signalBuffer.baseAddress
                                        return SpawnedChildren.spawning {
                                            spool_spawn(&request, &pid)
                                        } pid: {
                                            pid
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        guard code == 0 else { throw SystemError("run", path: program, code: code) }
        let exitFD = spool_pidfd_open(pid)
        return SpawnedProcess(pid: pid, exitDescriptor: exitFD >= 0 ? FileDescriptor(rawValue: exitFD) : nil)
    }

    /// Replaces this process with the program at `executable` (execv(3)): the same process id,
    /// environment, working directory, signal mask and standard streams; descriptors opened
    /// with O_CLOEXEC are closed. `arguments` become its argv, its name first. Returns only by
    /// throwing, when the program could not be started.
    package static func replaceCurrentProcess(with executable: String, arguments: [String]) throws(SystemError)
        -> Never
    {
        precondition(!arguments.isEmpty, "a program needs at least its name as an argument")
        let code = withCStrings(arguments) { argv in
            _ = execv(executable, argv)
            return errno
        }
        throw SystemError("run", path: executable, code: code)
    }

    /// Calls `body` with a NULL-terminated C array of C strings.
    private static func withCStrings<R>(
        _ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R
    ) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for pointer in pointers { free(pointer) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    private static func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
        guard let string else { return body(nil) }
        return string.withCString { body($0) }
    }
}

/// Process identity helpers.
public enum ProcessInfoLite {
    public static var currentProcessID: Int32 { getpid() }

    /// Whether a process with this pid exists (kill(pid, 0)); EPERM means it exists.
    public static func isAlive(_ pid: Int32) -> Bool {
        if Glibc.kill(pid, 0) == 0 { return true }
        return errno == EPERM
    }

    /// The machine's host name.
    public static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Seconds since the epoch with nanosecond precision.
    public static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1_000_000_000
    }

    /// Monotonic seconds, for deadlines.
    public static func monotonicNow() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1_000_000_000
    }
}

extension SpawnedProcess {
    /// SIGTERM to the whole process group.
    public func terminateGroup() { signalGroup(SIGTERM) }
    /// SIGKILL to the whole process group.
    public func killGroup() { signalGroup(SIGKILL) }
}

extension ProcessInfoLite {
    /// Sleeps the calling thread (a worker or watcher thread, never a task).
    public static func sleep(seconds: Double) {
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
    }
}

extension ProcessInfoLite {
    /// The invoking user's name (from the password database), else `uid N`: who requested a
    /// cancel or retry.
    public static var userName: String {
        let uid = getuid()
        if let entry = getpwuid(uid), let name = entry.pointee.pw_name { return String(cString: name) }
        return "uid \(uid)"
    }
}
