import SpoolKit
import SpoolSystem

enum ResultCommand: Command {
    static let name = "result"
    static let synopsis = "ID [--follow]"
    static let summary = "print a job's result (a parent's: its children's, in order)"
    static let options: [OptionSpec] = [
        .flag("follow", "print a running job's result as it grows, until the job finishes")
    ]
    static let details = """
        Streams results/ID.out to standard output. For a parent, streams each child's result
        (results/ID/0001.out, ...) in batch order, in constant memory; children without a result
        yet are named on standard error. Exit 66 when there is no result at all. With --follow,
        a queued or running job's result is printed as it is written (a report's partial output,
        or a command's standard output in tmp/), then the rest once the job has finished. With
        masking configured, a report masked for a role that sees more than yours is refused (77).
        On a terminal, control characters and bytes that are not UTF-8 are shown escaped (see
        'spool --help'); into a pipe or a file the result is copied byte for byte.
        """

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        guard arguments.positionals.count == 1 else { throw .usage("spool result: name one job id") }
        let store = JobStore(spool: try openSpool(arguments))
        let id = arguments.positionals[0]
        let (files, missing) = try store.resultFiles(of: id)
        if let problem = store.resultAccessProblem(of: id) {
            Output.error("spool: " + problem)
            return ExitCode.noPermission
        }
        if arguments.has("follow") && JobID.parent(of: id) == nil && files.count <= 1 {
            if try store.locate(id).state.isTerminal == false {
                follow(store, id: id)
                return ExitCode.success
            }
        }
        var output = JobBytesOutput()
        for file in files { try store.copyResult(file) { output.write($0) } }
        output.finish()
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

    /// Prints the growing result by position until the job has finished, then the rest of the
    /// published result. A report resumed after a crash rewrites the same bytes, so following
    /// by position stays right; a command retried from scratch starts a new file, and bytes
    /// already printed from the failed attempt are not taken back (a note says so).
    private static func follow(_ store: JobStore, id: String) {
        var output = JobBytesOutput()
        defer { output.finish() }
        var offset = 0
        var current: String?
        // Every file followed is inside the spool: read from its root, never through a link.
        func read(_ path: String) -> [UInt8] {
            (try? FileSystem.readFileInSpool(path, root: store.layout.root, from: offset, limit: 1 << 20)) ?? []
        }
        while true {
            let state = (try? store.locate(id).state) ?? .failed
            if state.isTerminal {
                while true {
                    let bytes = read(store.layout.resultPath(id))
                    if bytes.isEmpty { return }
                    offset += bytes.count
                    output.write(bytes)
                }
            }
            if let path = store.inProgressResultPath(of: id) {
                if let current, current != path, !path.hasSuffix("/report.out") {
                    Output.error("spool: job \(id) started a new attempt; its output follows from byte \(offset)")
                }
                current = path
                while true {
                    let bytes = read(path)
                    if bytes.isEmpty { break }
                    offset += bytes.count
                    output.write(bytes)
                }
            }
            ProcessInfoLite.sleep(seconds: 0.2)
        }
    }
}
