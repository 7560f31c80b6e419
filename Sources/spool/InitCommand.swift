import SpoolKit
import SpoolSystem

enum InitCommand: Command {
    static let name = "init"
    static let synopsis = "DIR"
    static let summary = "create a spool: state directories and a default spool.json"
    static let options: [OptionSpec] = []

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        guard arguments.positionals.count == 1 else { throw .usage("spool init: name one directory (spool init DIR)") }
        let spool = try Spool.create(arguments.positionals[0])
        Output.line("initialised spool \(spool.layout.root)")
        return ExitCode.success
    }
}
