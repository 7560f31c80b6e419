import SpoolSystem

/// The per-job log, `logs/ID.log`: timestamped, levelled lines from the processor, with the
/// handler's standard error in between. Each line is appended with one write under O_APPEND,
/// so lines from several processes never interleave mid-line.
public enum JobLog {
    public enum Level: String, Sendable {
        case info = "INFO"
        case warning = "WARNING"
        case error = "ERROR"
    }

    /// Appends one line; failures to log are reported to the caller's stderr, never fatal.
    public static func append(_ layout: SpoolLayout, id: String, _ level: Level, _ message: String) {
        let line = Timestamp.now() + " " + level.rawValue + " " + message.replacingNewlines() + "\n"
        do {
            let fd = try openForAppending(layout, id: id)
            defer { fd.close() }
            try fd.writeAll(Array(line.utf8))
        } catch {
            Diagnostics.warn("could not write the log of job \(id): \(error)")
        }
    }

    /// Opens a job's log for appending, creating it (and a child's `logs/PARENT/`) if needed:
    /// from the spool's root, never through a link (`logs/` swapped for one included), never
    /// waiting on a FIFO, and only a regular file (`FileSystem.openInSpool`).
    static func openForAppending(_ layout: SpoolLayout, id: String) throws(SystemError) -> FileDescriptor {
        try FileSystem.openForAppendingInSpool(layout.logPath(id), root: layout.root)
    }

    /// Where a handler's (or notifier's) standard error goes: the job's log, or, when that
    /// cannot be opened (a FIFO or a link in its place, `logs/` a link), `/dev/null`, said on
    /// the processor's standard error: a log is never a reason to fail a job.
    static func openForHandler(_ layout: SpoolLayout, id: String) throws(SystemError) -> FileDescriptor {
        do {
            return try openForAppending(layout, id: id)
        } catch {
            Diagnostics.warn("could not open the log of job \(id): \(error); its handler's standard error is discarded")
            return try FileSystem.open("/dev/null", OpenFlags.writeOnly)
        }
    }
}

extension String {
    /// One line: newlines and carriage returns shown as `\n` / `\r`.
    func replacingNewlines() -> String {
        guard contains(where: { $0 == "\n" || $0 == "\r" }) else { return self }
        return replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
    }

    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
