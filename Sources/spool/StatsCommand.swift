import SpoolKit

enum StatsCommand: Command {
    static let name = "stats"
    static let synopsis = "[--json]"
    static let summary = "count jobs by state and by type"
    static let options: [OptionSpec] = [.flag("json", "print JSON")]

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        let spool = try openSpool(arguments)
        let statistics = SpoolStatistics.gather(spool: spool)
        if arguments.has("json") {
            Output.line(JSONWriter.string(statistics.jsonValue, pretty: true))
            return ExitCode.success
        }
        let states = JobState.allCases
        Output.line("total \(statistics.total)")
        Output.line(states.map { "\($0.displayName) \(statistics.byState[$0, default: 0])" }.joined(separator: "  "))
        if !statistics.byType.isEmpty {
            Output.line("")
            let header = "TYPE".padding(toLength: 16) + states.map { $0.displayName.padding(toLength: 10) }.joined()
            Output.line(String(header.reversed().drop { $0 == " " }.reversed()))
            for type in statistics.byType.keys.sorted() {
                let counts = statistics.byType[type]!
                let row =
                    String(type.prefix(15)).padding(toLength: 16)
                    + states.map { String(counts[$0, default: 0]).padding(toLength: 10) }.joined()
                Output.line(String(row.reversed().drop { $0 == " " }.reversed()))
            }
        }
        return ExitCode.success
    }
}
