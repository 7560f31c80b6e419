import SpoolJSON
import SpoolKit
import SpoolSystem

/// A program the benchmark compiles from the repository's `bench/` sources: ready at a path, or
/// unavailable for a reason that the report prints instead of a figure.
enum BenchmarkTool: Sendable, Equatable {
    case ready(String)
    case unavailable(String)

    var path: String? {
        if case .ready(let path) = self { return path }
        return nil
    }

    var reason: String? {
        if case .unavailable(let reason) = self { return reason }
        return nil
    }
}

/// The C floor (`bench/floor.c`: the same transitions with the minimum of system calls) and the
/// stamp probe (`bench/stamp.c`: appends `SPOOL_JOB_ID CLOCK_REALTIME-ns` to a file), compiled
/// with the system's `cc` into the benchmark's temporary directory.
///
/// The sources are looked for in `--source DIR` (DIR/bench/ or DIR itself), else in every
/// directory above the executable (`.build/release/spool` → the repository) and above the
/// working directory. Without `cc` or the sources, the floor's figures and the scenarios that
/// need the probe are reported as "n/a (reason)", never estimated.
struct FloorTools: Sendable {
    let floor: BenchmarkTool
    let stamp: BenchmarkTool
    /// The directory `floor.c` was found in, for the report.
    let sourceDirectory: String?

    static let notNeeded = FloorTools(
        floor: .unavailable("not needed by the scenarios run"), stamp: .unavailable("not needed by the scenarios run"),
        sourceDirectory: nil)

    /// Finds the sources and compiles both programs into `directory`.
    static func prepare(
        source: String?, executable: String, into directory: String, registry: BenchmarkProcessRegistry,
        cancellation: BenchmarkCancellation, environment: [String]
    ) -> FloorTools {
        let candidates: [String]
        if let source {
            let absolute = WorkingDirectory.absolute(source)
            candidates = [absolute + "/bench", absolute]
        } else {
            let above = ancestors(of: FileSystem.directoryName(of: executable))
            candidates = (above + ancestors(of: WorkingDirectory.absolute("."))).map { $0 + "/bench" }
        }
        guard let sources = candidates.first(where: { FileSystem.exists($0 + "/floor.c") }) else {
            let reason =
                source != nil
                ? "no floor.c in \(source!)/bench or \(source!)"
                : "bench/floor.c not found above the executable or the working directory (use --source DIR)"
            return FloorTools(floor: .unavailable(reason), stamp: .unavailable(reason), sourceDirectory: nil)
        }
        guard let compiler = findInPath("cc") else {
            let reason = "no cc in PATH to compile bench/floor.c"
            return FloorTools(floor: .unavailable(reason), stamp: .unavailable(reason), sourceDirectory: sources)
        }
        func compile(_ file: String, _ flags: [String]) -> BenchmarkTool {
            let sourcePath = sources + "/" + file + ".c"
            guard FileSystem.exists(sourcePath) else { return .unavailable("no \(file).c in \(sources)") }
            let output = directory + "/" + file
            do {
                let process = try BenchmarkProcess(
                    [compiler, "-O2"] + flags + ["-o", output, sourcePath], name: "cc-" + file,
                    logDirectory: directory, environment: environment, registry: registry,
                    cancellation: cancellation)
                let outcome = try process.wait(timeout: 120)
                guard outcome.termination == .exited(0) else {
                    return .unavailable(
                        "cc failed on bench/\(file).c (\(outcome.termination))" + process.errorTail(lines: 1))
                }
                return .ready(output)
            } catch {
                return .unavailable("cc failed on bench/\(file).c: \(error)")
            }
        }
        return FloorTools(
            floor: compile("floor", ["-pthread"]), stamp: compile("stamp", []), sourceDirectory: sources)
    }

    /// `path` and every directory above it, nearest first.
    private static func ancestors(of path: String) -> [String] {
        var result: [String] = []
        var current = (try? FileSystem.canonicalPath(path)) ?? path
        while !current.isEmpty {
            result.append(current)
            if current == "/" { break }
            let parent = FileSystem.directoryName(of: current)
            current = parent.isEmpty ? "/" : parent
        }
        return result
    }

    /// An executable named `program` in PATH.
    private static func findInPath(_ program: String) -> String? {
        let search = environmentValue("PATH") ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in search.split(separator: ":") where !directory.isEmpty {
            let candidate = String(directory) + "/" + program
            if FileSystem.isExecutableFile(candidate) { return candidate }
        }
        return nil
    }
}

extension FloorTools {
    /// How the floor runs its jobs: a command per job, or reading the job file in-process.
    enum Mode: String {
        case exec
        case inProcess = "inproc"
    }

    /// The floor's command line: `floor -w W -m MODE [-s K] -n COUNT DIR [COMMAND...]`.
    static func arguments(
        _ floor: String, workers: Int, mode: Mode, syncEvery: Int? = nil, count: Int, directory: String,
        command: [String] = []
    ) -> [String] {
        var arguments = [floor, "-w", String(workers), "-m", mode.rawValue]
        if let syncEvery { arguments += ["-s", String(syncEvery)] }
        return arguments + ["-n", String(count), directory] + command
    }
}
