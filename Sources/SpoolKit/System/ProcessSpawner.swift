import CSpoolShims
import Glibc

/// How a child process ended, decoded from its wait status.
public enum ProcessTermination: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signalled(Int32)

    /// Decodes a wait(2) status by hand: the W* macros are not imported into Swift.
    init(waitStatus status: Int32) {
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

    init(_ usage: rusage) {
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
    let exitDescriptor: FileDescriptor?

    /// Sends a signal to the child's whole process group.
    public func signalGroup(_ signal: Int32) {
        _ = Glibc.kill(-pid, signal)
    }

    /// Reaps the child if it has exited; nil while it still runs. Never blocks.
    func reapIfExited() -> (ProcessTermination, ProcessUsage)? {
        var status: Int32 = 0
        var usage = rusage()
        let result = retryingInterrupts { wait4(pid, &status, WNOHANG, &usage) }
        switch result {
        case .success(let reaped) where reaped == pid:
            return (ProcessTermination(waitStatus: status), ProcessUsage(usage))
        case .success:
            return nil
        case .failure:
            // ECHILD: someone else reaped it (should not happen); report it as gone.
            return (.exited(-1), ProcessUsage(rusage()))
        }
    }

    /// Blocks until the child exits and reaps it. Call only on a dedicated thread.
    func waitForExit() -> (ProcessTermination, ProcessUsage) {
        var status: Int32 = 0
        var usage = rusage()
        let result = retryingInterrupts { wait4(pid, &status, 0, &usage) }
        if case .failure = result { return (.exited(-1), ProcessUsage(rusage())) }
        return (ProcessTermination(waitStatus: status), ProcessUsage(usage))
    }

    func closeDescriptors() { exitDescriptor?.close() }
}

/// A resource limit applied to a child after it is spawned (prlimit(2)).
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

/// Spawns handlers with posix_spawn: never through a shell, each in its own process group,
/// with an empty signal mask and default dispositions (libdispatch threads block SIGTERM and
/// friends, and a child would otherwise inherit that), and only the descriptors it is handed.
public enum ProcessSpawner {
    /// Spawns `arguments[0]` (searched in PATH when it has no slash) with `arguments` as argv.
    /// `descriptors[i]` becomes the child's descriptor i; every other descriptor is closed.
    static func spawn(
        arguments: [String],
        environment: [String],
        workingDirectory: String?,
        descriptors: [FileDescriptor],
        limits: [ResourceLimit] = []
    ) throws(SystemError) -> SpawnedProcess {
        precondition(!arguments.isEmpty, "a handler command needs at least one argument")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // A source numbered below the count could be overwritten by an earlier dup2: use a copy
        // above the range for those.
        var copies: [Int32] = []
        defer { for copy in copies { _ = Glibc.close(copy) } }
        var sources = descriptors.map(\.rawValue)
        for index in sources.indices where sources[index] < Int32(descriptors.count) {
            let copy = fcntl(sources[index], F_DUPFD_CLOEXEC, Int32(max(descriptors.count, 10)))
            guard copy >= 0 else { throw SystemError("duplicate a descriptor for", path: arguments[0], code: errno) }
            copies.append(copy)
            sources[index] = copy
        }
        for (target, source) in sources.enumerated() {
            // dup2 onto the target clears FD_CLOEXEC there.
            posix_spawn_file_actions_adddup2(&actions, source, Int32(target))
        }
        // And nothing else: not even descriptors this process inherited without close-on-exec.
        spool_spawn_addclosefrom(&actions, Int32(descriptors.count))
        if let workingDirectory { spool_spawn_addchdir(&actions, workingDirectory) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        let flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        posix_spawnattr_setflags(&attributes, Int16(flags))

        var pid: pid_t = 0
        let code = withCStrings(arguments) { argv in
            withCStrings(environment) { envp in
                if arguments[0].contains("/") {
                    return posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
                }
                return posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
            }
        }
        guard code == 0 else { throw SystemError("run", path: arguments[0], code: code) }
        for limit in limits {
            var value = rlimit(rlim_cur: rlim_t(limit.soft), rlim_max: rlim_t(limit.hard))
            _ = spool_prlimit(pid, limit.resource, &value, nil)
        }
        let exitFD = spool_pidfd_open(pid)
        return SpawnedProcess(pid: pid, exitDescriptor: exitFD >= 0 ? FileDescriptor(rawValue: exitFD) : nil)
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
