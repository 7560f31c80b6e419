import Synchronization

/// The spool's event journal: `events/YYYY-MM-DD.ndjson` (UTC days), one `JobEvent` line per
/// change of state. Each line is appended with one write(2) under `O_APPEND`, so lines from any
/// number of processes on one host never interleave. Journal lines are a record of what
/// happened, not the truth about where a job is: the directories are. A line can be missing
/// after a crash between a move and its line; it is never written for a move that failed.
public final class EventJournal: Sendable {
    public let layout: SpoolLayout
    /// Day files older than this many seconds are removed by processors.
    public let retention: Double
    private let prunes: Bool
    /// The open day file of this process, reopened when the day changes.
    private let current = Mutex<(day: String, descriptor: FileDescriptor?)>(("", nil))

    /// `prunes`: whether this process removes day files past `retention` when it opens a new
    /// day (processors do; one-shot commands do not).
    public init(layout: SpoolLayout, retention: Double, prunes: Bool) {
        self.layout = layout
        self.retention = retention
        self.prunes = prunes
    }

    deinit { current.withLock { $0.descriptor?.close() } }

    /// Appends one event. A journal that cannot be written is reported on standard error and
    /// never stops a transition.
    public func append(_ event: JobEvent) {
        let day = Self.day(of: event.time)
        let line = event.line()
        current.withLock { current in
            do {
                if current.day != day || current.descriptor == nil {
                    current.descriptor?.close()
                    current.descriptor = nil
                    current.descriptor = try open(day)
                    current.day = day
                    if prunes { prune(before: event.time - retention) }
                }
                try current.descriptor!.writeAll(line, path: path(ofDay: day))
            } catch {
                Diagnostics.warn("could not append to the event journal: \(error)")
            }
        }
    }

    /// The day's file, from the spool's root, never through a link or into a FIFO; `events/`
    /// is made when missing (a spool made before the journal existed).
    private func open(_ day: String) throws(SystemError) -> FileDescriptor {
        try FileSystem.openForAppendingInSpool(path(ofDay: day), root: layout.root)
    }

    /// `events/YYYY-MM-DD.ndjson`.
    public func path(ofDay day: String) -> String { layout.eventsDirectory + "/" + day + ".ndjson" }

    /// The UTC day of a time, as the journal names its files.
    public static func day(of time: Double) -> String { String(Timestamp.format(time).prefix(10)) }

    /// The journal's days, oldest first.
    public func days() -> [String] {
        let entries = (try? FileSystem.listDirectory(layout.eventsDirectory)) ?? []
        return entries.compactMap { entry -> String? in
            guard let name = entry.name, name.hasSuffix(".ndjson"), name.utf8.count == 17 else { return nil }
            return String(name.prefix(10))
        }.sorted()
    }

    /// Removes day files wholly before `time`.
    func prune(before time: Double) {
        let oldestKept = Self.day(of: time)
        for day in days() where day < oldestKept {
            do { try FileSystem.unlinkIfPresent(path(ofDay: day)) } catch {
                Diagnostics.warn("could not remove an old event journal file: \(error)")
            }
        }
    }

    /// Calls `body` with every event at or after `since`, oldest first, day by day.
    /// Damaged lines (a crash mid-write) are skipped.
    public func forEachEvent(since: Double? = nil, _ body: (JobEvent) -> Void) {
        let firstDay = since.map(Self.day(of:))
        for day in days() where firstDay.map({ day >= $0 }) ?? true {
            guard let bytes = try? FileSystem.readFile(path(ofDay: day), limit: Int.max) else { continue }
            Self.forEachLine(bytes) { line in
                guard let event = JobEvent(line: line) else { return }
                if let since, event.time < since { return }
                body(event)
            }
        }
    }

    /// Splits NDJSON bytes into lines without their newline; a last line without one is skipped
    /// (it may still be being written).
    static func forEachLine(_ bytes: [UInt8], _ body: (ArraySlice<UInt8>) -> Void) {
        let newlines: [Int] = bytes.withUnsafeBufferPointer { buffer in
            var found: [Int] = []
            var start = 0
            while let newline = ByteSearch.firstIndex(of: 10, in: buffer, from: start, to: buffer.count) {
                found.append(newline)
                start = newline + 1
            }
            return found
        }
        var start = 0
        for newline in newlines {
            if newline > start { body(bytes[start..<newline]) }
            start = newline + 1
        }
    }
}
