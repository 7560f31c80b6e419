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
            let fd = try openForAppending(layout.logPath(id))
            defer { fd.close() }
            try fd.writeAll(Array(line.utf8))
        } catch {
            Diagnostics.warn("could not write the log of job \(id): \(error)")
        }
    }

    /// Opens a log for appending, creating it if needed (the handler's stderr goes here too).
    static func openForAppending(_ path: String) throws(SystemError) -> FileDescriptor {
        let flags = OpenFlags.writeOnly | OpenFlags.append | OpenFlags.create | OpenFlags.noFollow
        do {
            return try FileSystem.open(path, flags, mode: 0o644)
        } catch  where error.isNotFound {
            // A child's log lives in logs/PARENT/, made when the batch is split (or here, if it went).
            try FileSystem.makeDirectory(FileSystem.directoryName(of: path))
            return try FileSystem.open(path, flags, mode: 0o644)
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


