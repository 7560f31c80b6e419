import SpoolJSON
import SpoolSystem

/// What a handler writes besides its result, relayed by the supervisor: progress lines on fd 3
/// and standard error on fd 2, which becomes timestamped, levelled lines in the job's log.
///
/// Reads are bounded per call (64 KiB a channel), so a handler flooding either pipe cannot
/// starve the loop that enforces its timeout, limits and stop requests.
final class HandlerChannels {
    let progress: (read: FileDescriptor, write: FileDescriptor)
    let errors: (read: FileDescriptor, write: FileDescriptor)
    private let log: FileDescriptor
    /// The `log` limit: standard error past it is not written (the supervisor then kills the group).
    private let logLimit: Int?
    private var progressOpen = true
    private var errorsOpen = true
    private var progressLines = LineSplitter()
    private var errorLines = LineSplitter()
    private var ignoredProgressLines = 0
    private var buffer = [UInt8](repeating: 0, count: 4096)
    /// Bytes of standard error so far (for the `log` limit).
    private(set) var errorBytes = 0

    /// Unrecognised progress lines logged per attempt; the rest are counted, not logged.
    static let loggedIgnoredLines = 10

    init(log: FileDescriptor, logLimit: Int?) throws(SystemError) {
        self.log = log
        self.logLimit = logLimit
        progress = try FileDescriptor.pipe()
        do {
            errors = try FileDescriptor.pipe()
        } catch {
            progress.read.close()
            progress.write.close()
            throw error
        }
        try progress.read.setNonBlocking()
        try errors.read.setNonBlocking()
    }

    /// The parent's copies of the write ends, closed once the child has its own.
    func closeWriteEnds() {
        progress.write.close()
        errors.write.close()
    }

    func close() {
        progress.read.close()
        errors.read.close()
    }

    /// Read ends still open, to poll.
    var openReadEnds: [FileDescriptor] {
        (progressOpen ? [progress.read] : []) + (errorsOpen ? [errors.read] : [])
    }

    /// Relays what is waiting on both channels, at most 64 KiB of each.
    func relay(_ context: HandlerContext) {
        for chunk in read(progress.read, open: &progressOpen) {
            for line in progressLines.feed(chunk[...]) { handleProgress(line, context) }
        }
        for chunk in read(errors.read, open: &errorsOpen) {
            errorBytes += chunk.count
            let lines = errorLines.feed(chunk[...])
            if let logLimit, errorBytes > logLimit { continue }
            for line in lines { writeErrorLine(line) }
        }
    }

    /// After the handler exited: what is left, and a last line without its newline.
    func finish(_ context: HandlerContext) {
        relay(context)
        if let rest = errorLines.remainder(), errorBytes <= (logLimit ?? .max) { writeErrorLine(rest) }
    }

    private func read(_ descriptor: FileDescriptor, open: inout Bool) -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        for _ in 0..<16 where open {
            guard let count = try? descriptor.read(into: &buffer) else { break }  // EAGAIN: nothing more now
            if count == 0 {
                open = false
                break
            }
            chunks.append(Array(buffer[0..<count]))
        }
        return chunks
    }

    private func handleProgress(_ line: String, _ context: HandlerContext) {
        switch ProgressMessage.parse(line) {
        case .progress(let percent): context.reportProgress(percent)
        case .records(let counts): context.reportRecords(counts)
        case .error(let message, let severity):
            var reported = JSONObject([("message", .string(message))])
            if let severity { reported["severity"] = .string(severity) }
            context.annotate(JobRunner.reportedErrorField, .object(reported))
        case .unknown(let text):
            ignoredProgressLines += 1
            if ignoredProgressLines <= Self.loggedIgnoredLines {
                context.log(.warning, "ignored progress line: \(text)")
            } else if ignoredProgressLines == Self.loggedIgnoredLines + 1 {
                context.log(.warning, "more ignored progress lines; not logging them")
            }
        case nil: break
        }
    }

    /// `TIMESTAMP LEVEL stderr: LINE`, the level read from the line's first word.
    private func writeErrorLine(_ line: String) {
        let text = Timestamp.now() + " " + Self.level(of: line).rawValue + " stderr: " + line + "\n"
        try? log.writeAll(Array(text.utf8))
    }

    /// ERROR for lines starting with "error" or "fatal", WARNING for "warn", else INFO.
    static func level(of line: String) -> JobLog.Level {
        let start = line.drop { $0 == " " || $0 == "\t" }.prefix(7).lowercased()
        if start.hasPrefix("error") || start.hasPrefix("fatal") { return .error }
        if start.hasPrefix("warn") { return .warning }
        return .info
    }
}
