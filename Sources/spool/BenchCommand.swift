import SpoolJSON
import SpoolKit
import SpoolSystem

/// `spool bench`: the benchmark is its own executable, `spool-bench`, built beside `spool`
/// (`swift build` builds both) so that `spool` does not carry it. This command replaces the
/// process with the `spool-bench` beside this executable, the words after `bench` passed on as
/// they are: the options, the help, the report and the exit status are spool-bench's
/// (Sources/spool-bench/BenchArguments.swift).
enum BenchCommand {
    static let entry = CommandEntry(
        name: "bench", summary: "measure the throughput, latency and memory of spool beside a C floor",
        options: ["--quick", "--json", "--only", "--dir", "--source", "--spool", "--help"],
        valueOptions: ["--only", "--dir", "--source", "--spool"], execute: forward)

    /// Execs `spool-bench WORDS`; returns only when it cannot (69: missing, not executable).
    static func forward(_ words: [String]) -> Int32 {
        guard let executable = FileSystem.currentExecutablePath() else {
            Output.error("spool bench: cannot find this executable (/proc/self/exe), and spool-bench beside it")
            return ExitCode.unavailable
        }
        let bench = FileSystem.directoryName(of: executable) + "/spool-bench"
        guard FileSystem.isExecutableFile(bench) else {
            Output.error(
                "spool bench: the benchmark is its own executable, and '\(bench)' does not exist. Build it with "
                    + "'swift build --product spool-bench' (add '-c release' for figures that mean something), "
                    + "or 'swift build', which builds spool and spool-bench.")
            return ExitCode.unavailable
        }
        do {
            try ProcessSpawner.replaceCurrentProcess(with: bench, arguments: [bench] + words)
        } catch {
            Output.error("spool bench: \(error)")
            return ExitCode.unavailable
        }
    }
}
