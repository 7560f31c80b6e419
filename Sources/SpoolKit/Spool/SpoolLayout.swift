import SpoolSystem

/// Where everything lives inside a spool directory. Every path the spool touches is built here,
/// from the root and a validated job id, so no input can name a path outside the spool.
public struct SpoolLayout: Sendable, Equatable {
    /// The spool's absolute root directory.
    public let root: String

    public init(root: String) { self.root = root }

    public var configurationPath: String { root + "/spool.json" }
    /// Staging area: submissions, record rewrites and results in progress.
    public var temporaryDirectory: String { root + "/tmp" }
    /// Final result files (`results/ID.out`).
    public var resultsDirectory: String { root + "/results" }
    /// Per-job logs (`logs/ID.log`).
    public var logsDirectory: String { root + "/logs" }
    /// One lock file per live processor; the lock says the processor (or a handler it started) lives.
    public var processorsDirectory: String { root + "/processors" }
    /// Requests to processors (cancel a running job, hold a type), as files.
    public var controlDirectory: String { root + "/control" }

    public func directory(_ state: JobState) -> String { root + "/" + state.rawValue }

    /// Markers of finished dependencies, for dependent jobs made exactly once (`deps/`).
    public var dependenciesDirectory: String { root + "/deps" }
    /// Jobs waiting to be delivered by a route (`outbox/ROUTE/ID.json`).
    public var outboxDirectory: String { root + "/outbox" }
    /// Finished jobs returned by the spools this one forwarded them to.
    public var returnsDirectory: String { root + "/returns" }
    /// The event journal's day files (`events/YYYY-MM-DD.ndjson`).
    public var eventsDirectory: String { root + "/events" }
    /// What each schedule last fired (`schedules/NAME.last`).
    public var schedulesDirectory: String { root + "/schedules" }

    /// Every directory a spool has; `spool init` creates them, every command checks them.
    public var allDirectories: [String] {
        JobState.allCases.map(directory) + [
            temporaryDirectory, resultsDirectory, logsDirectory, processorsDirectory, controlDirectory,
            dependenciesDirectory, schedulesDirectory, outboxDirectory, returnsDirectory,
            eventsDirectory,
        ]
    }

    /// Directories that spools made by earlier versions lack; opening a spool creates them.
    var directoriesAddedLater: [String] {
        [
            directory(.waiting), directory(.forwarded), dependenciesDirectory, schedulesDirectory, outboxDirectory,
            returnsDirectory, eventsDirectory,
        ]
    }

    /// `STATE/ID.json`; for a child id `PARENT/CHILD`, `STATE/PARENT/CHILD.json`.
    public func jobPath(_ id: String, in state: JobState) -> String { directory(state) + "/" + id + ".json" }

    /// The subdirectory of a state directory that holds a parent's children there.
    public func batchDirectory(_ parent: String, in state: JobState) -> String { directory(state) + "/" + parent }

    /// The result file's path relative to the root, as recorded in the job's `result` field.
    public func relativeResultPath(_ id: String) -> String { "results/" + id + ".out" }
    public func resultPath(_ id: String) -> String { root + "/" + relativeResultPath(id) }
    public func logPath(_ id: String) -> String { logsDirectory + "/" + id + ".log" }

    /// A fresh staging path, unique to this process and call: pid, start time and a counter.
    /// (Random names cost one getrandom(2) per character: measured 30 system calls per job.)
    public func temporaryPath(_ label: String) -> String {
        temporaryDirectory + "/" + temporaryNamePrefix(label) + TemporaryNames.processPrefix + "."
            + String(TemporaryNames.counter.add(1, ordering: .relaxed).newValue) + ".tmp"
    }

    /// How every staging name made for `label` by `temporaryPath` begins.
    func temporaryNamePrefix(_ label: String) -> String {
        // A child's id has a slash; staging names are flat.
        label.replacingOccurrences(of: "/", with: "+") + "."
    }

    /// Whether `name` (in tmp/) is a staging name `temporaryPath(label)` made, in any process:
    /// `LABEL.PID-MICROS.N.tmp` (ids may contain dots, so the rest is checked part by part).
    func isTemporaryName(_ name: String, for label: String) -> Bool {
        let prefix = temporaryNamePrefix(label)
        guard name.hasPrefix(prefix) else { return false }
        let parts = name.dropFirst(prefix.count).split(separator: ".", omittingEmptySubsequences: false)
        let digits: (Substring) -> Bool = { !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }
        guard parts.count == 3, parts[2] == "tmp", digits(parts[1]) else { return false }
        let process = parts[0].split(separator: "-", omittingEmptySubsequences: false)
        return process.count == 2 && process.allSatisfy(digits)
    }

    /// Where the processors keep work directories: `processors/work/`, private to the
    /// processor's user (submitters write `tmp/`, so work cannot live there).
    public var workDirectoriesRoot: String { processorsDirectory + "/work" }

    /// A job's work directory, kept across its attempts (a report's partial output and
    /// checkpoint) and removed when the job ends: `processors/work/ID` (a child's `/` as `+`).
    public func workDirectory(_ id: String) -> String {
        workDirectoriesRoot + "/" + id.replacingOccurrences(of: "/", with: "+")
    }

    /// Where a path inside the spool is shown to users: relative to the root.
    public func relative(_ path: String) -> String {
        path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : path
    }
}
