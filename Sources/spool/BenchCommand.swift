import SpoolKit
import SpoolJSON
import SpoolSystem

enum BenchCommand: Command {
    static let name = "bench"
    static let synopsis = "[--quick] [--json] [--only NAME[,NAME...]] [--dir DIR] [--source DIR]"
    static let summary = "measure this binary's throughput, latency and memory beside a C floor"
    static let options: [OptionSpec] = [
        .flag("quick", "small sizes: a smoke test in seconds; targets are not evaluated"),
        .flag("json", "print the report as JSON"),
        .value("only", "NAMES", "run only these scenarios (comma-separated)"),
        .value("dir", "DIR", "make the temporary spools under DIR (default: $TMPDIR, else /tmp)"),
        .value("source", "DIR", "find bench/floor.c and bench/stamp.c in DIR (default: above the executable)"),
    ]

    static var details: String {
        var text = """
            Spawns this executable as spool init, run, submit, stats, show on temporary spools (removed at
            the end), and a C floor (bench/floor.c, compiled with cc) doing the same work, and prints one
            row per measurement with its target. Build with 'swift build -c release' first: a debug
            build's figures mean little. Exit status 0 when every scenario ran (missed targets included),
            70 when one could not run properly. --spool is not used. See docs/PERFORMANCE.md.

            Scenarios:

            """
        for scenario in Benchmark.scenarios {
            text += "  " + scenario.name.padding(toLength: 14) + scenario.summary + "\n"
        }
        return String(text.dropLast())
    }

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        guard arguments.positionals.isEmpty else {
            throw .usage("spool bench: unexpected argument '\(arguments.positionals[0])'")
        }
        let known = Benchmark.scenarios.map(\.name)
        var only: [String]?
        if let list = arguments.values["only"] {
            let names = list.flatMap { $0.split(separator: ",") }.map { String($0).trimmingSpaces }.filter {
                !$0.isEmpty
            }
            if let unknown = names.first(where: { !known.contains($0) }) {
                throw .usage("spool bench: no scenario '\(unknown)' (scenarios: \(known.joined(separator: ", ")))")
            }
            guard !names.isEmpty else { throw .usage("spool bench: --only needs at least one scenario name") }
            only = names
        }
        let directory =
            arguments.value("dir") ?? Environment.value("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        guard FileSystem.isDirectory(directory) else {
            throw .usage("spool bench: --dir '\(directory)' is not a directory")
        }
        if Benchmark.buildConfiguration == "debug" {
            Output.error(
                "spool bench: warning: this is a debug build; its figures mean little. "
                    + "Build with 'swift build -c release' and run .build/release/spool bench.")
        }
        let report = Benchmark.run(
            BenchmarkOptions(
                quick: arguments.has("quick"), only: only, directory: directory,
                sourceDirectory: arguments.value("source"), progress: { Output.error("bench: " + $0) }))
        if arguments.has("json") {
            Output.line(JSONWriter.string(report.jsonValue, pretty: true))
        } else {
            for line in report.tableLines() { Output.line(line) }
        }
        if report.interrupted { return 130 }
        for scenario in report.scenarios where scenario.failure != nil {
            Output.error("spool bench: scenario \(scenario.name) could not run properly: \(scenario.failure!)")
        }
        return report.succeeded ? ExitCode.success : ExitCode.software
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
