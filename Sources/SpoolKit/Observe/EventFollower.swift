import SpoolSystem

/// Reads the event journal as it grows, for `spool events --follow` and live views: new lines
/// are noticed through inotify on `events/`, never by polling.
public final class EventFollower {
    public let journal: EventJournal
    private let inotify: Inotify
    private var day: String
    private var offset = 0
    /// The bytes of a line whose end has not been written yet.
    private var partial: [UInt8] = []

    /// Starts at the end of today's file: only events from now on are returned.
    public init(journal: EventJournal) throws(SystemError) {
        self.journal = journal
        inotify = try Inotify()
        try FileSystem.makeDirectory(journal.layout.eventsDirectory)
        _ = try inotify.addWatch(journal.layout.eventsDirectory, mask: Inotify.appendMask)
        day = EventJournal.day(of: ProcessInfoLite.now())
        offset = (try? FileSystem.statusNotFollowing(journal.path(ofDay: day)))??.size ?? 0
    }

    /// Also wakes on changes in `directory` (a live view watches `processing/` for progress).
    public func watch(_ directory: String) throws(SystemError) {
        _ = try inotify.addWatch(directory, mask: Inotify.jobArrivalMask)
    }

    var inotifyDescriptor: FileDescriptor { inotify.descriptor }
    func inotifyReadPending() throws(SystemError) -> [InotifyEvent] { try inotify.readPendingEvents() }

    /// Waits up to `timeout` seconds (nil: no limit) for new events and returns them; empty when
    /// the time ran out. Blocks the calling thread.
    public func next(timeout: Double?) -> [JobEvent] {
        var events = readNew()
        if !events.isEmpty { return events }
        let deadline = timeout.map { ProcessInfoLite.monotonicNow() + $0 }
        while events.isEmpty {
            let remaining = deadline.map { $0 - ProcessInfoLite.monotonicNow() }
            if let remaining, remaining <= 0 { break }
            _ = inotify.waitForEvents(timeout: remaining)
            events = readNew()
        }
        return events
    }

    /// What was appended since the last read, moving on to the next day's file when it appears.
    private func readNew() -> [JobEvent] {
        var events: [JobEvent] = []
        while true {
            let bytes = FileSystem.readFile(journal.path(ofDay: day), from: offset)
            offset += bytes.count
            partial += bytes
            var consumed = 0
            EventJournal.forEachLine(partial) { line in
                if let event = JobEvent(line: line) { events.append(event) }
                consumed = line.endIndex + 1
            }
            if let lastNewline = partial.lastIndex(of: 10) { consumed = lastNewline + 1 }
            partial.removeFirst(consumed)
            // A later day's file means today's is complete once read to its end.
            guard let nextDay = journal.days().first(where: { $0 > day }) else { return events }
            day = nextDay
            offset = 0
            partial = []
        }
    }
}

extension EventFollower {
    /// Blocks until a journal event, a change in one of the extra watched directories, input on
    /// `input`, or `timeout` seconds; returns the new events (maybe none).
    public func next(timeout: Double, orInputOn input: Int32?) -> [JobEvent] {
        var descriptors = [inotifyDescriptor]
        if let input { descriptors.append(FileDescriptor(rawValue: input)) }
        let ready = Poll.waitReadable(descriptors, timeoutMilliseconds: Int32(max(0, timeout * 1000)))
        if ready.contains(0) { _ = try? inotifyReadPending() }
        return next(timeout: 0)
    }
}
