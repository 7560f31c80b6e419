import SpoolKit
import SpoolSystem

/// The `spool` command: argument parsing, exit codes and wiring; the work is in SpoolKit.
@main
enum SpoolMain {
    static let commands: [CommandEntry] = [
        CommandEntry(InitCommand.self), CommandEntry(RunCommand.self), CommandEntry(SubmitCommand.self),
        CommandEntry(ListCommand.self), CommandEntry(ShowCommand.self), CommandEntry(StatsCommand.self),
        CommandEntry(CancelCommand.self), CommandEntry(RetryCommand.self), CommandEntry(HoldCommand.self),
        CommandEntry(ReleaseCommand.self), CommandEntry(ResultCommand.self), CommandEntry(LogsCommand.self),
        CommandEntry(EventsCommand.self), CommandEntry(WaitCommand.self), CommandEntry(CompletionsCommand.self),
        CommandEntry(TopCommand.self), CommandEntry(SchedulesCommand.self), CommandEntry(PurgeCommand.self),
        CommandEntry(FsckCommand.self),
        BenchCommand.entry,
    ]

    static func main() {
        let status = dispatch(Array(CommandLine.arguments.dropFirst()))
        exitProcess(status)
    }

    /// Runs the command the words name and returns the exit status.
    static func dispatch(_ words: [String]) -> Int32 {
        guard let first = words.first else {
            Output.error(overview)
            return ExitCode.usage
        }
        switch first {
        case "--help", "-h", "help":
            if words.count >= 2, let command = command(named: words[1]) {
                return command.execute(["--help"])
            }
            Output.line(overview)
            return ExitCode.success
        case "--version":
            Output.line("spool \(SpoolVersion.current)")
            return ExitCode.success
        default:
            guard let command = command(named: first) else {
                Output.error(
                    "spool: unknown command '\(first)'. Commands: \(commands.map(\.name).joined(separator: ", "))")
                return ExitCode.usage
            }
            return command.execute(Array(words.dropFirst()))
        }
    }

    static func command(named name: String) -> CommandEntry? {
        commands.first { $0.name == name }
    }

    static var overview: String {
        var text = """
            spool: a file-based job spool processor. Jobs are JSON files dropped into
            queued/; 'spool run' runs each with the handler its type names in spool.json.

            Usage: spool COMMAND [OPTIONS]

            Commands:

            """
        for command in commands { text += "  " + command.name.padding(toLength: 12) + command.summary + "\n" }
        text += """

            Every command takes --spool DIR (default: $SPOOL_DIR, else ./spool) and --help.
            On a terminal, control characters in what commands print (a job's fields, log or
            result) are shown as \\u00XX (ESC as \\u001b) and bytes that are not UTF-8 as \\xXX;
            into a pipe or a file, output is the bytes as they are.
            Exit codes: 0 ok, 1 a waited-for job failed, 64 usage, 65 bad data,
            66 no such spool or job, 69 unavailable (spool-bench not built), 70 internal error,
            73 cannot create, 74 I/O error, 75 try again, 77 permission denied, 78 bad configuration.
            """
        return text
    }
}

/// A command in the table: its name, summary, options, and how to run it (`--help` included).
/// Built from the command's type through a generic initialiser (existential metatypes with
/// typed throws crash the 6.3 compiler).
struct CommandEntry: Sendable {
    let name: String
    let summary: String
    /// Every option as typed (`--json`), for shell completion.
    let options: [String]
    /// Options that take a value (their next word is not a job id).
    let valueOptions: [String]
    let execute: @Sendable ([String]) -> Int32

    init<C: Command>(_ command: C.Type) {
        name = C.name
        summary = C.summary
        options = C.allOptions.map { "--" + $0.name }
        valueOptions = C.allOptions.filter { $0.valueName != nil }.map { "--" + $0.name }
        execute = { C.execute($0) }
    }

    /// A command that another executable carries out: `execute` gets the words after its name
    /// unparsed, `--help` included; `options` are what it takes, for completion.
    init(
        name: String, summary: String, options: [String], valueOptions: [String],
        execute: @escaping @Sendable ([String]) -> Int32
    ) {
        self.name = name
        self.summary = summary
        self.options = options
        self.valueOptions = valueOptions
        self.execute = execute
    }
}

enum SpoolVersion {
    static let current = "0.1.0"
}
