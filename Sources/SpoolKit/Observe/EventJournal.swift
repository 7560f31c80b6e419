import SpoolJSON
import SpoolSystem
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
    /// The open day file of this process, reopened when the day changes, and the lines it lost.
    private let current = Mutex(State())

    private struct State {
        var day = ""
        var descriptor: FileDescriptor?
        /// Lines that could not be appended since the journal last wrote one, and when the
        /// first of them happened.
        var lost = 0
        var lostSince = 0.0
        /// A failed write may have left part of a line: the next write starts a line of its own.
        var fragment = false
    }

    /// `prunes`: whether this process removes day files past `retention` when it opens a new
    /// day (processors do; one-shot commands do not).
    public init(layout: SpoolLayout, retention: Double, prunes: Bool) {
        self.layout = layout
        self.retention = retention
        self.prunes = prunes
    }

    deinit { current.withLock { $0.descriptor?.close() } }

    /// Appends one event. A journal that cannot be written never stops a transition: the line
    /// is counted as lost (said once on standard error), and the next line written after it is
    /// preceded by a note of how many were lost (`reportLosses`).
    public func append(_ event: JobEvent) {
        write(event.line(), time: event.time, processor: event.processor)
    }

    /// If lines were lost, appends the note saying how many (without waiting for the next
    /// event) and says it on standard error; if the journal still cannot be written, says how
    /// many are lost so far. A processor calls it when storage takes writes again and at exit.
    public func reportLosses(processor: String?) {
        guard current.withLock({ $0.lost }) > 0 else { return }
        write(nil, time: ProcessInfoLite.now(), processor: processor)
    }

    /// What a write did about lost lines, said on standard error once the lock is released.
    private enum Outcome {
        case written
        /// The note of `count` lines lost since `since` went in before the line.
        case noted(count: Int, since: Double)
        /// The line was lost, the first since the journal last wrote.
        case firstLoss(SystemError)
        case lost
        /// Only the note was to be written, and could not be.
        case noteFailed(count: Int, since: Double)
    }

    /// Appends `line` (nil: none) with one write(2), after the note of the lines lost before it.
    private func write(_ line: [UInt8]?, time: Double, processor: String?) {
        let day = Self.day(of: time)
        let path = path(ofDay: day)
        let outcome = current.withLock { current -> Outcome in
            let (lost, since) = (current.lost, current.lostSince)
            var bytes: [UInt8] = current.fragment ? [10] : []
            if lost > 0 { bytes += Self.lossNote(lost, since: since, time: time, processor: processor) }
            if let line { bytes += line }
            do throws(SystemError) {
                if current.day != day || current.descriptor == nil {
                    current.descriptor?.close()
                    current.descriptor = nil
                    current.descriptor = try open(day)
                    current.day = day
                    if prunes { prune(before: time - retention) }
                }
                try current.descriptor!.writeAll(bytes, path: path)
                (current.lost, current.fragment) = (0, false)
                return lost > 0 ? .noted(count: lost, since: since) : .written
            } catch {
                if current.descriptor != nil && !current.fragment { current.fragment = Self.endsMidLine(path) }
                guard line != nil else { return .noteFailed(count: lost, since: since) }
                current.lost += 1
                if lost > 0 { return .lost }
                current.lostSince = time
                return .firstLoss(error)
            }
        }
        switch outcome {
        case .written, .lost: break
        case .firstLoss(let error):
            Diagnostics.warn(
                "could not append to the event journal: \(error); counting the lines lost until it can be "
                    + "written again")
        case .noted(let count, let since):
            Diagnostics.info(
                "the event journal lost \(count) line(s) from \(Timestamp.format(since)) on, while it could not be "
                    + "written (noted in \(layout.relative(path)))")
        case .noteFailed(let count, let since):
            Diagnostics.warn(
                "the event journal has lost \(count) line(s) since \(Timestamp.format(since)); it still cannot be "
                    + "written")
        }
    }

    /// The journal's note of `count` lost lines: a line with `note` instead of an event's `id`
    /// and `to`, which readers of events pass over.
    static func lossNote(_ count: Int, since: Double, time: Double, processor: String?) -> [UInt8] {
        var object = JSONObject([
            ("time", .string(Timestamp.format(time))), ("note", .string("lost")), ("lost", JSONValue(count)),
            ("since", .string(Timestamp.format(since))),
        ])
        if let processor { object["processor"] = .string(processor) }
        return JSONWriter.write(.object(object), pretty: false) + [10]
    }

    /// Whether the file's last byte is not a newline (a write cut short left part of a line).
    private static func endsMidLine(_ path: String) -> Bool {
        guard let size = (try? FileSystem.statusNotFollowing(path))??.size, size > 0 else { return false }
        return FileSystem.readFile(path, from: size - 1, limit: 1) != [10]
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
