import SpoolJSON
import SpoolKit
import SpoolSystem

/// Why a scenario could not run to its end: a process failed or timed out, a file could not be
/// written, the run was interrupted. The message names what failed.
public struct BenchmarkFailure: Error, Sendable, CustomStringConvertible {
    /// What failed, naming the process or file.
    public let message: String
    /// Whether the benchmark was interrupted (SIGINT or SIGTERM) rather than failing.
    public let isInterruption: Bool

    init(_ message: String, isInterruption: Bool = false) {
        self.message = message
        self.isInterruption = isInterruption
    }

    static let interrupted = BenchmarkFailure("interrupted", isInterruption: true)

    static func system(_ error: SystemError) -> BenchmarkFailure { BenchmarkFailure(error.description) }

    /// The message.
    public var description: String { message }
}

/// Runs a system call wrapper, turning its error into a scenario's failure.
func systemCall<Value>(_ body: () throws(SystemError) -> Value) throws(BenchmarkFailure) -> Value {
    do { return try body() } catch { throw .system(error) }
}

/// How a measured process ended: its status, its wall time from spawn to reap, and its peak
/// resident memory (ru_maxrss of wait4(2)).
struct ProcessOutcome {
    let termination: ProcessTermination
    /// Seconds from just before the spawn to the moment its exit was seen.
    let seconds: Double
    let maximumResidentBytes: Int
}

/// A child process the benchmark measures: spawned with the System spawner (its own process
/// group, standard output and error in files of the benchmark's log directory), timed on the
/// monotonic clock from just before the spawn to the moment its exit is seen (a pidfd wakes
/// the waiting thread at once). Waits block the calling thread, which is the benchmark's main
/// thread or one of its own threads, never the cooperative pool.
final class BenchmarkProcess {
    let name: String
    let arguments: [String]
    let process: SpawnedProcess
    /// CLOCK_MONOTONIC seconds and CLOCK_REALTIME nanoseconds just before the spawn.
    let startedMonotonic: Double
    let startedRealtimeNanoseconds: Int64
    let outputPath: String
    let errorPath: String
    private let registry: BenchmarkProcessRegistry
    private let cancellation: BenchmarkCancellation
    private(set) var outcome: ProcessOutcome?

    /// Starts `arguments` (the program's path first) with `environment`.
    init(
        _ arguments: [String], name: String, logDirectory: String, environment: [String],
        registry: BenchmarkProcessRegistry, cancellation: BenchmarkCancellation
    ) throws(BenchmarkFailure) {
        self.name = name
        self.arguments = arguments
        self.registry = registry
        self.cancellation = cancellation
        let base = logDirectory + "/" + registry.nextLogName(name)
        outputPath = base + ".out"
        errorPath = base + ".err"
        let input: FileDescriptor
        let output: FileDescriptor
        let error: FileDescriptor
        do {
            input = try FileSystem.open("/dev/null", OpenFlags.readOnly)
            output = try FileSystem.createExclusive(outputPath)
            error = try FileSystem.createExclusive(errorPath)
        } catch {
            throw .system(error)
        }
        defer {
            input.close()
            output.close()
            error.close()
        }
        startedRealtimeNanoseconds = MachineDescription.realtimeNanoseconds()
        startedMonotonic = ProcessInfoLite.monotonicNow()
        do {
            process = try ProcessSpawner.spawn(
                arguments: arguments, environment: environment, workingDirectory: nil,
                descriptors: [input, output, error])
        } catch {
            throw BenchmarkFailure("\(name): could not start \(arguments[0]): \(error)")
        }
        registry.add(process)
    }

    /// Waits for the process to exit by itself, at most `timeout` seconds; past that it is
    /// killed and the wait fails. An interruption of the benchmark kills it too.
    @discardableResult
    func wait(timeout: Double) throws(BenchmarkFailure) -> ProcessOutcome {
        if let outcome { return outcome }
        let deadline = startedMonotonic + timeout
        while true {
            let now = ProcessInfoLite.monotonicNow()
            if let ended = process.waitForExit(timeout: min(0.1, max(0, deadline - now))) {
                return finish(ended)
            }
            if cancellation.isCancelled {
                _ = kill()
                throw .interrupted
            }
            if ProcessInfoLite.monotonicNow() >= deadline {
                _ = kill()
                throw BenchmarkFailure(
                    "\(name): timed out after \(BenchmarkFormat.fixed(timeout, 0)) s and was killed" + errorTail())
            }
        }
    }

    /// Waits like `wait`, then requires exit status 0.
    @discardableResult
    func waitForSuccess(timeout: Double) throws(BenchmarkFailure) -> ProcessOutcome {
        let outcome = try wait(timeout: timeout)
        guard outcome.termination == .exited(0) else {
            throw BenchmarkFailure("\(name): \(outcome.termination)" + errorTail())
        }
        return outcome
    }

    /// The outcome if the process has exited (reaping it), nil while it runs. Never blocks.
    func exited() -> ProcessOutcome? {
        if let outcome { return outcome }
        return process.waitForExit(timeout: 0).map(finish)
    }

    /// Stops the process with SIGTERM and waits for it; SIGKILL to its group after `grace`
    /// seconds, and then the stop fails.
    @discardableResult
    func stop(grace: Double = 30) throws(BenchmarkFailure) -> ProcessOutcome {
        if let outcome { return outcome }
        process.terminate()
        let deadline = ProcessInfoLite.monotonicNow() + grace
        while ProcessInfoLite.monotonicNow() < deadline {
            if let ended = process.waitForExit(timeout: 0.1) { return finish(ended) }
        }
        _ = kill()
        throw BenchmarkFailure("\(name): did not stop within \(BenchmarkFormat.fixed(grace, 0)) s of SIGTERM")
    }

    /// Kills the process's group at once and reaps it.
    @discardableResult
    func kill() -> ProcessOutcome {
        if let outcome { return outcome }
        process.killGroup()
        return finish(process.waitForExit())
    }

    /// The process's peak resident memory so far (VmHWM), while it runs.
    var peakResidentBytes: Int? { ProcessTable.peakResidentBytes(of: process.pid) }

    /// What the process wrote on standard output.
    var standardOutput: String {
        String(decoding: FixtureFiles.read(outputPath, from: 0, maximum: 16 << 20), as: UTF8.self)
    }

    /// Its standard error so far (the first 16 MiB).
    var standardError: String {
        String(decoding: FixtureFiles.read(errorPath, from: 0, maximum: 16 << 20), as: UTF8.self)
    }

    /// The last lines of its standard error, for a failure's message (empty when it wrote none).
    func errorTail(lines: Int = 4) -> String {
        let size = FixtureFiles.size(errorPath)
        let bytes = FixtureFiles.read(errorPath, from: max(0, size - 16_384), maximum: 16_384)
        let text = String(decoding: bytes, as: UTF8.self)
        let last = text.split(separator: "\n").suffix(lines)
        return last.isEmpty ? "" : " (stderr: " + last.joined(separator: " | ") + ")"
    }

    private func finish(_ ended: (ProcessTermination, ProcessUsage)) -> ProcessOutcome {
        let result = ProcessOutcome(
            termination: ended.0, seconds: ProcessInfoLite.monotonicNow() - startedMonotonic,
            maximumResidentBytes: ended.1.maximumResidentKilobytes * 1024)
        process.closeDescriptors()
        registry.remove(process)
        outcome = result
        return result
    }
}

/// The processes a benchmark has running, so that a failure or an interruption can kill what a
/// scenario left behind.
final class BenchmarkProcessRegistry: Sendable {
    private let running = Locked<[Int32: SpawnedProcess]>([:])
    private let counter = Locked(0)

    func add(_ process: SpawnedProcess) { running.withLock { $0[process.pid] = process } }
    func remove(_ process: SpawnedProcess) { _ = running.withLock { $0.removeValue(forKey: process.pid) } }

    /// A unique name for a process's log files: `NNN-name`.
    func nextLogName(_ name: String) -> String {
        let number = counter.withLock { value -> Int in
            value += 1
            return value
        }
        let digits = String(number)
        let safe = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "-" })
        return String(repeating: "0", count: max(0, 3 - digits.count)) + digits + "-" + safe
    }

    /// Kills every registered process's group and reaps it.
    func killAll() {
        let processes = running.withLock { all -> [SpawnedProcess] in
            defer { all.removeAll() }
            return Array(all.values)
        }
        for process in processes {
            process.killGroup()
            _ = process.waitForExit()
            process.closeDescriptors()
        }
    }
}
