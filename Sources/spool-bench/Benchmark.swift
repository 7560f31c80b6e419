import SpoolJSON
import SpoolKit
import SpoolSystem

/// What `spool bench` is asked to do.
public struct BenchmarkOptions: Sendable {
    /// Small sizes: a smoke test of every scenario in seconds; targets are not evaluated.
    public var quick: Bool
    /// The scenarios to run, by name; nil: all of them.
    public var only: [String]?
    /// Where the temporary spools go (the file system measured).
    public var directory: String
    /// Where to find `bench/floor.c` and `bench/stamp.c`; nil: look above the executable and
    /// the working directory.
    public var sourceDirectory: String?
    /// Called with each progress line (a long run says where it is).
    public var progress: @Sendable (String) -> Void

    /// Options of a run; by default every scenario at full size, without progress lines.
    public init(
        quick: Bool = false, only: [String]? = nil, directory: String, sourceDirectory: String? = nil,
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.quick = quick
        self.only = only
        self.directory = directory
        self.sourceDirectory = sourceDirectory
        self.progress = progress
    }
}

/// `spool bench`: measures the `spool` executable beside this one end to end, as a user runs it
/// (`spool init`, `spool run`, `spool stats`, … spawned on temporary spools), beside a C
/// floor that does the same transitions with the minimum of system calls, and evaluates the
/// performance targets on the figures. Figures mean something only in a release build.
public enum Benchmark {
    /// The scenarios, in the order a run takes them: (name for `--only`, what it measures).
    public static var scenarios: [(name: String, summary: String)] {
        BenchmarkScenario.all.map { ($0.name, $0.summary) }
    }

    /// `release` or `debug`, as this executable was compiled (and `spool`, built with it).
    public static var buildConfiguration: String {
        #if DEBUG
            return "debug"
        #else
            return "release"
        #endif
    }

    /// Runs the chosen scenarios in a temporary directory under `options.directory`, removed at
    /// the end whatever happens (and on SIGINT or SIGTERM, which stop the run). A scenario that
    /// cannot run properly (a job failed, a process timed out) is reported as failed and the
    /// others still run; a target that is missed is only reported. Blocks the calling thread
    /// for as long as the run takes (minutes in full, seconds with `quick`).
    public static func run(_ options: BenchmarkOptions) -> BenchmarkReport {
        let selected = BenchmarkScenario.all.filter { options.only?.contains($0.name) ?? true }
        let directory = (try? FileSystem.canonicalPath(options.directory)) ?? options.directory
        var report = BenchmarkReport(
            date: Timestamp.now(), processorCount: MachineDescription.processorCount, directory: directory,
            fileSystem: MachineDescription.fileSystemType(of: directory) ?? "unknown",
            buildConfiguration: buildConfiguration, quick: options.quick, floor: "not needed", stamp: "not needed")
        let cancellation = BenchmarkCancellation()
        let signals = SignalHandling { _ in
            if cancellation.cancel() {
                StandardStreams.writeError("spool bench: stopped at once; temporary files are left behind\n")
                exitProcess(130)
            }
            StandardStreams.writeError("spool bench: interrupted; stopping and removing temporary files\n")
        }
        defer { signals.cancel() }

        let workDirectory: String
        do {
            workDirectory = try FixtureFiles.makeTemporaryDirectory(in: directory, prefix: "spool-bench.")
        } catch {
            report.scenarios.append(.init(name: "set-up", seconds: 0, failure: error.description))
            return report
        }
        let registry = BenchmarkProcessRegistry()
        defer {
            registry.killAll()
            options.progress("removing \(workDirectory)")
            FixtureFiles.removeTree(workDirectory)
        }
        guard let executable = spoolExecutable() else {
            report.scenarios.append(.init(name: "set-up", seconds: 0, failure: "cannot read /proc/self/exe"))
            return report
        }
        guard FileSystem.isExecutableFile(executable) else {
            let failure = "no spool executable at '\(executable)', beside spool-bench: build both with 'swift build'"
            report.scenarios.append(.init(name: "set-up", seconds: 0, failure: failure))
            return report
        }
        let environment = FileSystem.currentEnvironment().filter { !$0.hasPrefix("SPOOL_") }
        let tools: FloorTools
        if selected.contains(where: \.usesFloorTools) {
            let toolDirectory = workDirectory + "/tools"
            try? FileSystem.makeDirectory(toolDirectory)
            tools = FloorTools.prepare(
                source: options.sourceDirectory, executable: executable, into: toolDirectory, registry: registry,
                cancellation: cancellation, environment: environment)
            report.floor =
                tools.floor.path.map { _ in "compiled from " + (tools.sourceDirectory ?? "?") + "/floor.c" }
                ?? "n/a (\(tools.floor.reason!))"
            report.stamp =
                tools.stamp.path.map { _ in "compiled from " + (tools.sourceDirectory ?? "?") + "/stamp.c" }
                ?? "n/a (\(tools.stamp.reason!))"
            options.progress("floor: \(report.floor); stamp: \(report.stamp)")
        } else {
            tools = .notNeeded
        }
        let context: BenchmarkContext
        do {
            context = try BenchmarkContext(
                quick: options.quick, workDirectory: workDirectory, executable: executable, tools: tools,
                cancellation: cancellation, registry: registry, environment: environment, progress: options.progress)
        } catch {
            report.scenarios.append(.init(name: "set-up", seconds: 0, failure: error.description))
            return report
        }
        for scenario in selected {
            if cancellation.isCancelled {
                report.interrupted = true
                break
            }
            options.progress("\(scenario.name): \(scenario.summary)")
            let began = ProcessInfoLite.monotonicNow()
            do {
                try scenario.run(context)
                report.scenarios.append(
                    .init(name: scenario.name, seconds: ProcessInfoLite.monotonicNow() - began, failure: nil))
            } catch {
                registry.killAll()
                if error.isInterruption {
                    report.interrupted = true
                    break
                }
                options.progress("\(scenario.name) FAILED: \(error.message)")
                report.scenarios.append(
                    .init(name: scenario.name, seconds: ProcessInfoLite.monotonicNow() - began, failure: error.message))
            }
        }
        report.measurements = context.measurements
        return report
    }

    /// The `spool` measured: the one beside this executable (built together: `swift build`
    /// builds both into the same directory); nil when /proc/self/exe cannot be read.
    static func spoolExecutable() -> String? {
        FileSystem.currentExecutablePath().map { FileSystem.directoryName(of: $0) + "/spool" }
    }
}
