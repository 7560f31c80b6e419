import SpoolKit

enum ResultCommand: Command {
    static let name = "result"
    static let synopsis = "ID"
    static let summary = "print a job's result; a parent's is its children's results in batch order"
    static let options: [OptionSpec] = []
    static let details = """
        Streams results/ID.out to standard output. For a parent, streams each child's result
        (results/ID/0001.out, ...) in batch order, in constant memory; children without a result
        yet are named on standard error. Exit 66 when there is no result at all.
        """

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        guard arguments.positionals.count == 1 else { throw .usage("spool result: name one job id") }
        let store = JobStore(spool: try openSpool(arguments))
        let id = arguments.positionals[0]
        let (files, missing) = try store.resultFiles(of: id)
        for file in files { try store.copyResult(file, to: 1) }
        if files.isEmpty {
            Output.error("spool: job \(id) has no result yet")
            return ExitCode.noInput
        }
        if !missing.isEmpty {
            let shown = missing.prefix(10).joined(separator: ", ") + (missing.count > 10 ? ", …" : "")
            Output.error("spool: \(missing.count) child job(s) of \(id) have no result: \(shown)")
        }
        return ExitCode.success
    }
}
