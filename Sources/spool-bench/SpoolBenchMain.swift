import SpoolJSON
import SpoolKit
import SpoolSystem

/// `spool-bench`: the benchmark, its own executable so that `spool` does not carry it. It
/// measures the `spool` executable beside it; `spool bench ARGS` replaces itself with the
/// `spool-bench` beside it, so both spellings take the same options and print the same report.
/// Exit status 0 when every scenario ran (missed targets included), 64 for a wrong command
/// line, 70 when a scenario could not run properly, 130 when interrupted.
@main
enum SpoolBenchMain {
    static func main() {
        exitProcess(run(Array(CommandLine.arguments.dropFirst())))
    }

    /// Runs the benchmark the words ask for and returns the exit status.
    static func run(_ words: [String]) -> Int32 {
        let arguments: BenchArguments
        do {
            arguments = try BenchArguments(words)
        } catch {
            printError("spool: \(error)")
            return ExitCode.usage
        }
        if arguments.help {
            print(BenchArguments.helpText)
            return ExitCode.success
        }
        if Benchmark.buildConfiguration == "debug" {
            printError(
                "spool bench: warning: this is a debug build; its figures mean little. "
                    + "Build with 'swift build -c release' and run .build/release/spool bench.")
        }
        let report = Benchmark.run(
            BenchmarkOptions(
                quick: arguments.quick, only: arguments.only, directory: arguments.directory,
                sourceDirectory: arguments.sourceDirectory, progress: { printError("bench: " + $0) }))
        if arguments.json {
            print(JSONWriter.string(report.jsonValue, pretty: true))
        } else {
            for line in report.tableLines() { print(line) }
        }
        if report.interrupted { return 130 }
        for scenario in report.scenarios where scenario.failure != nil {
            printError("spool bench: scenario \(scenario.name) could not run properly: \(scenario.failure!)")
        }
        return report.succeeded ? ExitCode.success : ExitCode.software
    }

    /// A line on standard output; on a terminal, control characters in it are made visible
    /// (as every `spool` command prints).
    static func print(_ text: String) {
        StandardStreams.writeOutput((outputIsTerminal ? TerminalText.visible(text) : text) + "\n")
    }

    /// A line on standard error, likewise.
    static func printError(_ text: String) {
        StandardStreams.writeError((errorIsTerminal ? TerminalText.visible(text) : text) + "\n")
    }

    static let outputIsTerminal = StandardStreams.isTerminal(1)
    static let errorIsTerminal = StandardStreams.isTerminal(2)
}
