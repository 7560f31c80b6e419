import Glibc

/// One inotify event: which watch, what happened, and the raw name of the entry.
public struct InotifyEvent: Sendable, Equatable {
    public let watch: Int32
    public let mask: UInt32
    public let rawName: [UInt8]

    public var isOverflow: Bool { mask & UInt32(IN_Q_OVERFLOW) != 0 }
    public var isDirectory: Bool { mask & UInt32(IN_ISDIR) != 0 }
    /// The watched directory itself went away (deleted, moved, or its file system unmounted).
    public var watchEnded: Bool { mask & (UInt32(IN_IGNORED) | UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF)) != 0 }
}

/// A non-blocking inotify instance (inotify_init1(2)).
///
/// Events are hints: the kernel drops them past `max_queued_events` and reports one
/// `IN_Q_OVERFLOW`; callers rescan the directory as the truth.
public final class Inotify: Sendable {
    public let descriptor: FileDescriptor

    public init() throws(SystemError) {
        let fd = try retryingInterrupts { inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)) }.orThrow("start inotify")
        descriptor = FileDescriptor(rawValue: fd)
    }

    deinit { descriptor.close() }

    /// The mask the spool watches directories with: files renamed in or closed after writing,
    /// plus the events that say the directory itself is gone.
    public static let jobArrivalMask =
        UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_ONLYDIR)
        | UInt32(IN_DELETE_SELF | IN_MOVE_SELF)

    /// Adds (or updates) a watch on a directory and returns its watch descriptor.
    public func addWatch(_ path: String, mask: UInt32 = Inotify.jobArrivalMask) throws(SystemError) -> Int32 {
        try retryingInterrupts { inotify_add_watch(descriptor.rawValue, path, mask) }.orThrow("watch", path: path)
    }

    /// Removes a watch; a watch that is already gone is not an error.
    public func removeWatch(_ watch: Int32) {
        _ = inotify_rm_watch(descriptor.rawValue, watch)
    }

    /// Reads every pending event until the queue is empty (EAGAIN). Never blocks.
    public func readPendingEvents() throws(SystemError) -> [InotifyEvent] {
        var events: [InotifyEvent] = []
        // 64 KiB holds hundreds of events; a buffer under 272 bytes would get EINVAL.
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count: Int
            do {
                count = try descriptor.read(into: &buffer, path: "inotify")
            } catch  where error.isWouldBlock {
                return events
            }
            if count <= 0 { return events }
            Inotify.decode(buffer[0..<count], into: &events)
        }
    }

    /// Decodes a buffer of `struct inotify_event` records, bound-checking each one.
    package static func decode(_ bytes: ArraySlice<UInt8>, into events: inout [InotifyEvent]) {
        let headerSize = 16  // int wd; uint32 mask; uint32 cookie; uint32 len
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset + headerSize <= raw.count {
                let watch = raw.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                let mask = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                let nameLength = Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                let nameStart = offset + headerSize
                guard nameStart + nameLength <= raw.count else { return }
                let nameBytes = raw[nameStart..<(nameStart + nameLength)]
                let name = Array(nameBytes.prefix { $0 != 0 })
                events.append(InotifyEvent(watch: watch, mask: mask, rawName: name))
                offset = nameStart + nameLength
            }
        }
    }
}

/// poll(2) over a few descriptors.
package enum Poll {
    /// Waits until one of `descriptors` is readable or `timeoutMilliseconds` pass (-1: forever).
    /// Returns the indexes of the readable (or hung-up) descriptors.
    package static func waitReadable(_ descriptors: [FileDescriptor], timeoutMilliseconds: Int32) -> [Int] {
        var fds = descriptors.map { pollfd(fd: $0.rawValue, events: Int16(POLLIN), revents: 0) }
        let result = fds.withUnsafeMutableBufferPointer { buffer in
            Glibc.poll(buffer.baseAddress, nfds_t(buffer.count), timeoutMilliseconds)
        }
        // EINTR and timeouts both mean "nothing ready yet": callers loop and re-check deadlines.
        guard result > 0 else { return [] }
        return fds.indices.filter { fds[$0].revents != 0 }
    }
}

extension Inotify {
    /// IN_DONT_FOLLOW: a watch on a batch directory never follows a symbolic link put in its place.
    package static let doNotFollowMask = UInt32(IN_DONT_FOLLOW)
    /// IN_CREATE, for the watcher (outside System/).
    package static let createdMask = UInt32(IN_CREATE)
    /// IN_DELETE, so that removing a control file (a release) is noticed at once.
    package static let deletedMask = UInt32(IN_DELETE)
}
