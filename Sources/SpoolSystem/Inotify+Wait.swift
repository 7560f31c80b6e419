import Glibc

extension Inotify {
    /// The mask for following files that grow in a directory (the event journal): appends,
    /// new files, files renamed in.
    public static let appendMask = UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)

    /// Blocks the calling thread (never call it on the cooperative pool) until an event is
    /// pending or `timeout` seconds pass (nil: no limit), then drains and returns the events.
    /// An empty result means the time ran out (or a signal interrupted the wait).
    public func waitForEvents(timeout: Double?) -> [InotifyEvent] {
        let milliseconds = timeout.map { Int32(min(Double(Int32.max), max(0, ($0 * 1000).rounded(.up)))) } ?? -1
        guard !Poll.waitReadable([descriptor], timeoutMilliseconds: milliseconds).isEmpty else { return [] }
        return (try? readPendingEvents()) ?? []
    }
}
