import SpoolKit
import SpoolSystem

/// A small table-driven parser: each command declares its options; `--help` is generated.
struct OptionSpec {
    let name: String
    let valueName: String?
    let help: String

    static func flag(_ name: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, valueName: nil, help: help)
    }
    static func value(_ name: String, _ valueName: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, valueName: valueName, help: help)
    }
}

/// The parsed command line of one command.
struct ParsedArguments {
    var values: [String: [String]] = [:]
    var flags: Set<String> = []
    var positionals: [String] = []

    func value(_ name: String) -> String? { values[name]?.last }
    func has(_ name: String) -> Bool { flags.contains(name) }

    func integer(_ name: String, minimum: Int = 1) throws(SpoolError) -> Int? {
        guard let text = value(name) else { return nil }
        guard let number = Int(text), number >= minimum else {
            throw .usage("--\(name) takes a whole number of at least \(minimum), not '\(text)'")
        }
        return number
    }

    func seconds(_ name: String, allowingZero: Bool = false) throws(SpoolError) -> Double? {
        guard let text = value(name) else { return nil }
        guard let number = Double(text), number > 0 || (allowingZero && number == 0), number.isFinite else {
            throw .usage("--\(name) takes a \(allowingZero ? "" : "positive ")number of seconds, not '\(text)'")
        }
        return number
    }
}

/// A command of the CLI.
protocol Command: Sendable {
    static var name: String { get }
    static var synopsis: String { get }
    static var summary: String { get }
    static var options: [OptionSpec] { get }
    /// Extra paragraphs of help.
    static var details: String { get }
    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32
}

extension Command {
    static var details: String { "" }

    /// The options every command takes.
    static var allOptions: [OptionSpec] {
        options + [
            .value("spool", "DIR", "the spool directory (default: $SPOOL_DIR, else ./spool)"),
            .flag("help", "show this help"),
        ]
    }

    static var help: String {
        var text = "\(summary)\n\nUsage: spool \(name) \(synopsis)\n\nOptions:\n"
        for option in allOptions {
            let left = "  --\(option.name)" + (option.valueName.map { " " + $0 } ?? "")
            text += left.padding(toLength: 26) + option.help + "\n"
        }
        if !details.isEmpty { text += "\n" + details + "\n" }
        return text
    }

    /// Parses the words after the command name, runs the command, and returns the exit status,
    /// reporting a failure on standard error.
    static func execute(_ words: [String]) -> Int32 {
        do {
            let arguments = try parse(words)
            if arguments.has("help") {
                Output.line(help)
                return ExitCode.success
            }
            return try run(arguments)
        } catch {
            Output.error("spool: \(error)")
            return error.exitCode
        }
    }

    static func parse(_ words: [String]) throws(SpoolError) -> ParsedArguments {
        var parsed = ParsedArguments()
        var index = 0
        var optionsEnded = false
        while index < words.count {
            let word = words[index]
            index += 1
            if optionsEnded || !word.hasPrefix("--") || word == "-" {
                parsed.positionals.append(word)
                continue
            }
            if word == "--" {
                optionsEnded = true
                continue
            }
            var name = String(word.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let spec = allOptions.first(where: { $0.name == name }) else {
                throw .usage("spool \(self.name): unknown option --\(name) (see 'spool \(self.name) --help')")
            }
            if spec.valueName == nil {
                if inlineValue != nil { throw .usage("spool \(self.name): --\(name) takes no value") }
                parsed.flags.insert(name)
            } else {
                let value: String
                if let inlineValue {
                    value = inlineValue
                } else {
                    guard index < words.count else {
                        throw .usage("spool \(self.name): --\(name) needs a value (\(spec.valueName!))")
                    }
                    value = words[index]
                    index += 1
                }
                parsed.values[name, default: []].append(value)
            }
        }
        return parsed
    }
}

extension String {
    func padding(toLength length: Int) -> String {
        count >= length ? self + " " : self + String(repeating: " ", count: length - count)
    }
}

/// Opens the spool named by --spool, $SPOOL_DIR, or ./spool.
func openSpool(_ arguments: ParsedArguments) throws(SpoolError) -> Spool {
    try Spool.open(spoolPath(arguments))
}

func spoolPath(_ arguments: ParsedArguments) -> String {
    if let path = arguments.value("spool") { return path }
    if let path = Environment.value("SPOOL_DIR"), !path.isEmpty { return path }
    return "spool"
}
