/// Notices arrivals in `queued/`: inotify events as hints (IN_MOVED_TO, IN_CLOSE_WRITE, and
/// IN_CREATE for entries that are never closed after writing: links, FIFOs, directories), a
/// full rescan as the truth — at start, on IN_Q_OVERFLOW, when the directory was replaced, and
/// on a slow timer. Without inotify (`--poll`, NFS), the rescan alone.
// Used by the watcher thread only, except `wake()`, which touches nothing but the immutable pipe.
final class QueueWatcher: @unchecked Sendable {
    /// What the watcher saw since the last call.
    struct Changes {
        var names: [[UInt8]] = []
        var needsRescan = false
        var woken = false
        /// Something changed in `control/`.
        var controlChanged = false
    }

    private let directory: String
    private let controlDirectory: String?
    private let inotify: Inotify?
    private var watch: Int32?
    private var controlWatch: Int32?
    private let wakePipe: (read: FileDescriptor, write: FileDescriptor)

    /// `useInotify: false` is poll mode.
    init(directory: String, controlDirectory: String? = nil, useInotify: Bool) throws(SpoolError) {
        self.directory = directory
        self.controlDirectory = controlDirectory
        do {
            wakePipe = try FileDescriptor.pipe()
            try wakePipe.read.setNonBlocking()
            try wakePipe.write.setNonBlocking()
        } catch { throw .system(error) }
        if useInotify {
            do { inotify = try Inotify() } catch {
                Diagnostics.warn("inotify is unavailable (\(error)); polling instead")
                inotify = nil
            }
        } else {
            inotify = nil
        }
        _ = rewatch()
    }

    deinit {
        wakePipe.read.close()
        wakePipe.write.close()
    }

    /// (Re-)adds the inotify watch; true when watching. Called again after the directory was
    /// removed and re-created.
    @discardableResult
    func rewatch() -> Bool {
        guard let inotify else { return false }
        if let controlDirectory {
            let mask = Inotify.jobArrivalMask | Inotify.deletedMask
            controlWatch = try? inotify.addWatch(controlDirectory, mask: mask)
        }
        do {
            watch = try inotify.addWatch(directory)
            return true
        } catch {
            watch = nil
            return false
        }
    }

    var isWatching: Bool { watch != nil }

    /// Wakes a `waitForChanges` in progress (from any thread; async-signal-safe write).
    nonisolated func wake() {
        try? wakePipe.write.writeAll([1])
    }

    /// Waits up to `timeout` seconds for events.
    func waitForChanges(timeout: Double) -> Changes {
        var changes = Changes()
        var descriptors = [wakePipe.read]
        if let inotify, watch != nil { descriptors.append(inotify.descriptor) }
        let milliseconds = Int32(max(0, min(timeout, 3600)) * 1000)
        let ready = Poll.waitReadable(descriptors, timeoutMilliseconds: milliseconds)
        if ready.contains(0) {
            changes.woken = true
            var buffer = [UInt8](repeating: 0, count: 64)
            while let count = try? wakePipe.read.read(into: &buffer), count > 0 {}
        }
        if let inotify, ready.contains(1) {
            let events = (try? inotify.readPendingEvents()) ?? []
            for event in events {
                if let controlWatch, event.watch == controlWatch {
                    changes.controlChanged = true
                    if event.watchEnded { self.controlWatch = nil }
                } else if event.isOverflow {
                    changes.needsRescan = true
                    changes.controlChanged = true
                } else if event.isOverflow {
                    changes.needsRescan = true
                } else if event.watchEnded {
                    watch = nil
                    changes.needsRescan = true
                } else if event.mask & Inotify.createdMask != 0 && !event.isDirectory {
                    // A regular file being written in place: wait for IN_CLOSE_WRITE. Symbolic and
                    // hard links, FIFOs and sockets never get one, so they are looked at now.
                    let status = try? FileSystem.statusNotFollowing(directory: directory, rawName: event.rawName)
                    if let status, status.kind != .regular || status.linkCount > 1 {
                        changes.names.append(event.rawName)
                    }
                } else {
                    changes.names.append(event.rawName)
                }
            }
        }
        return changes
    }

    /// Every entry of the directory (the truth that events only hint at).
    func scan() -> [[UInt8]] {
        ((try? FileSystem.listDirectory(directory)) ?? []).map(\.rawName)
    }
}
