import SpoolJSON
import SpoolKit
import SpoolSystem

enum FsckCommand: Command {
    static let name = "fsck"
    static let synopsis = "[--repair] [--json]"
    static let summary = "check the spool's consistency; repair what is safe"
    static let options: [OptionSpec] = [
        .flag(
            "repair",
            "recover orphaned jobs, remove dead processors' lock files and stale temporaries (safe beside running processors)"
        ),
        .flag("json", "print JSON"),
    ]
    static let details = """
        Checks that every job is in exactly one state and has a readable, sane record; finds jobs
        in processing/ whose claim no process holds any more (a job whose claim is alive counts as
        running), lock files of processors that are gone (no process holds their lock), stale temporaries and
        half-made batches, children without a parent and parents missing children, results and
        logs without a job, and jobs whose result is missing. Exit status 0 when nothing remains to be fixed (after --repair),
        1 when problems remain.
        """

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        guard arguments.positionals.isEmpty else {
            throw .usage("spool fsck: unexpected argument '\(arguments.positionals[0])'")
        }
        let store = JobStore(spool: try openSpool(arguments))
        let report = store.check(repair: arguments.has("repair"))
        if arguments.has("json") {
            Output.line(JSONWriter.string(report.jsonValue, pretty: true))
        } else {
            for problem in report.problems {
                Output.line(
                    (problem.repaired ? "repaired " : "") + problem.kind.rawValue + " " + problem.path + ": "
                        + problem.detail)
            }
            Output.line(
                "\(report.jobs) job(s), \(report.running) running, \(report.problems.count) problem(s)"
                    + (report.remaining == report.problems.count ? "" : ", \(report.remaining) remaining"))
        }
        return report.remaining == 0 ? ExitCode.success : ExitCode.failure
    }
}
