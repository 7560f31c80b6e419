import SpoolJSON
import SpoolKit
import SpoolSystem

/// The command line of the benchmark, as `spool bench` documents it: the options, their
/// parsing (the way every `spool` command parses its own: `--name VALUE` or `--name=VALUE`,
/// `--` ends the options), the checks of their values, and the generated `--help`.
struct BenchArguments {
    /// An option: a flag, or a name that takes a value (`valueName`).
    struct Option {
        let name: String
        let valueName: String?
        let help: String
    }

    static let synopsis = "[--quick] [--json] [--only NAME[,NAME...]] [--dir DIR] [--source DIR]"
    static let summary = "measure the throughput, latency and memory of spool beside a C floor"
    static let options = [
        Option(name: "quick", valueName: nil, help: "small sizes: a smoke test in seconds; targets are not evaluated"),
        Option(name: "json", valueName: nil, help: "print the report as JSON"),
        Option(name: "only", valueName: "NAMES", help: "run only these scenarios (comma-separated)"),
        Option(
            name: "dir", valueName: "DIR", help: "make the temporary spools under DIR (default: $TMPDIR, else /tmp)"),
        Option(
            name: "source", valueName: "DIR",
            help: "find bench/floor.c and bench/stamp.c in DIR (default: above the executable)"),
        // Every spool command takes these two; the benchmark does not use --spool.
        Option(name: "spool", valueName: "DIR", help: "the spool directory (default: $SPOOL_DIR, else ./spool)"),
        Option(name: "help", valueName: nil, help: "show this help"),
    ]

    /// `--help`.
    var help = false
    var quick = false
    var json = false
    /// The scenarios of `--only` (every one named by the options together); nil: all.
    var only: [String]?
    /// `--dir`, else `$TMPDIR`, else /tmp: checked to be a directory.
    var directory = "/tmp"
    /// `--source`.
    var sourceDirectory: String?

    /// Parses the words after `bench`; a wrong command line is a `BenchUsageError` naming the
    /// word. With `--help`, the other options are not checked.
    init(_ words: [String]) throws(BenchUsageError) {
        var values: [String: [String]] = [:]
        var positionals: [String] = []
        var rest = words[...]
        while let word = rest.popFirst() {
            if word == "--" {
                positionals += rest
                break
            }
            guard word.hasPrefix("--") else {
                positionals.append(word)
                continue
            }
            let text = word.dropFirst(2)
            let name = String(text.prefix { $0 != "=" })
            let inlineValue = text.firstIndex(of: "=").map { String(text[text.index(after: $0)...]) }
            guard let option = Self.options.first(where: { $0.name == name }) else {
                throw BenchUsageError("spool bench: unknown option --\(name) (see 'spool bench --help')")
            }
            guard let valueName = option.valueName else {
                if inlineValue != nil { throw BenchUsageError("spool bench: --\(name) takes no value") }
                values[name] = []
                continue
            }
            guard let value = inlineValue ?? rest.popFirst() else {
                throw BenchUsageError("spool bench: --\(name) needs a value (\(valueName))")
            }
            values[name, default: []].append(value)
        }
        help = values["help"] != nil
        quick = values["quick"] != nil
        json = values["json"] != nil
        sourceDirectory = values["source"]?.last
        directory = values["dir"]?.last ?? environmentValue("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        guard !help else { return }
        if let first = positionals.first { throw BenchUsageError("spool bench: unexpected argument '\(first)'") }
        try check(only: values["only"])
    }

    private mutating func check(only lists: [String]?) throws(BenchUsageError) {
        if let lists {
            let known = Benchmark.scenarios.map(\.name)
            let names = lists.flatMap { $0.split(separator: ",") }.map { String($0).trimmingSpaces }.filter {
                !$0.isEmpty
            }
            if let unknown = names.first(where: { !known.contains($0) }) {
                throw BenchUsageError(
                    "spool bench: no scenario '\(unknown)' (scenarios: \(known.joined(separator: ", ")))")
            }
            guard !names.isEmpty else { throw BenchUsageError("spool bench: --only needs at least one scenario name") }
            only = names
        }
        guard FileSystem.isDirectory(directory) else {
            throw BenchUsageError("spool bench: --dir '\(directory)' is not a directory")
        }
    }

    /// The text of `--help`.
    static var helpText: String {
        var text = "\(summary)\n\nUsage: spool bench \(synopsis)\n\nOptions:\n"
        for option in options {
            let left = "  --\(option.name)" + (option.valueName.map { " " + $0 } ?? "")
            text += left.padding(toLength: 26) + option.help + "\n"
        }
        text += """

            The benchmark is its own executable, spool-bench, which 'spool bench' runs from beside
            spool. It spawns that spool as spool init, run, submit, stats, show on temporary spools
            (removed at the end), and a C floor (bench/floor.c, compiled with cc) doing the same work,
            and prints one row per measurement with its target. Build with 'swift build -c release'
            first: a debug build's figures mean little. Exit status 0 when every scenario ran (missed
            targets included), 70 when one could not run properly. --spool is not used. See
            docs/PERFORMANCE.md.

            Scenarios:

            """
        for scenario in Benchmark.scenarios {
            text += "  " + scenario.name.padding(toLength: 14) + scenario.summary + "\n"
        }
        return text
    }
}

/// A wrong command line: the message names the word; the exit status is 64.
struct BenchUsageError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }

    /// The string padded with spaces to `length` characters, and one space at least after it.
    fileprivate func padding(toLength length: Int) -> String {
        count >= length ? self + " " : self + String(repeating: " ", count: length - count)
    }
}
