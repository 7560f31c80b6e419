import SpoolKit
import SpoolSystem

enum RunCommand: Command {
    static let name = "run"
    static let synopsis =
        "[--workers N] [--drain [--drain-wait SECONDS]] [--poll SECONDS] [--quiet] [--allow-root-handlers]"
    static let summary = "process jobs: watch queued/ and run each job's handler"
    static let options: [OptionSpec] = [
        .value("workers", "N", "jobs to run at once (default: workers in spool.json)"),
        .flag("drain", "exit once nothing is running and no queued job is due soon (for cron and scripts)"),
        .value("drain-wait", "SECONDS", "with --drain: wait for queued jobs due within SECONDS (default 60)"),
        .value("poll", "SECONDS", "rescan every SECONDS instead of using inotify (NFS)"),
        .flag("quiet", "do not print the summary at exit"),
        .value("metrics-file", "PATH", "rewrite a Prometheus text file here every metricsInterval s"),
        .flag("allow-root-handlers", "as root, run handlers without a \"user\" in spool.json as root"),
    ]
    static let details = """
        SIGTERM or SIGINT stops claiming new jobs, gives running handlers shutdownGrace seconds,
        then stops them and puts their jobs back in queued/. Exit status 0 after a clean stop.
        --drain exits once nothing is running and every queued job left is due more than
        --drain-wait seconds from now (a retry's backoff, a notBefore): jobs due sooner are waited
        for and run; those left are counted on stderr with the earliest due time (exit 0). A
        drain gives up after --drain-wait seconds of storage refusing writes (exit 74).
        As root, each handler runs as its "user" from spool.json (its own, else the spool's);
        a handler without one is refused (exit 78) unless --allow-root-handlers is given.
        """

    static func run(_ arguments: ParsedArguments) throws(SpoolError) -> Int32 {
        guard arguments.positionals.isEmpty else {
            throw .usage("spool run: unexpected argument '\(arguments.positionals[0])'")
        }
        let spool = try openSpool(arguments)
        let workers = try arguments.integer("workers") ?? spool.configuration.workers
        let poll = try arguments.seconds("poll")
        let drainWait = try arguments.seconds("drain-wait", allowingZero: true)
        if drainWait != nil && !arguments.has("drain") { throw .usage("spool run: --drain-wait needs --drain") }
        let processor = SpoolProcessor(
            spool: spool,
            options: .init(
                workers: workers, drain: arguments.has("drain"), drainWait: drainWait ?? 60, pollInterval: poll,
                metricsFile: arguments.value("metrics-file").map(WorkingDirectory.absolute),
                allowRootHandlers: arguments.has("allow-root-handlers")))
        _ = try processor.handlerUsers()
        let signals = SignalHandling { _ in processor.requestStop() }
        defer { signals.cancel() }
        if !arguments.has("quiet") {
            Output.error(
                "spool: processing \(spool.layout.root) with \(workers) worker(s)"
                    + (poll.map { ", polling every \($0) s" } ?? ", watching with inotify"))
        }
        let summary = try processor.run()
        if !arguments.has("quiet") { Output.line(summary.sentence) }
        return summary.storageRefusal == nil ? ExitCode.success : ExitCode.ioError
    }
}
