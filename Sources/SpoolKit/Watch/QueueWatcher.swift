import SpoolSystem

/// Notices arrivals in `queued/`: inotify events as hints (IN_MOVED_TO, IN_CLOSE_WRITE, and
/// IN_CREATE for entries that are never closed after writing: links, FIFOs, directories), a
/// full rescan as the truth — at start, on IN_Q_OVERFLOW, when the directory was replaced, and
/// on a slow timer. Without inotify (`--poll`, NFS), the rescan alone.
///
/// A subdirectory of `queued/` named like a job id holds a parent's child batch jobs: it is
/// watched too, from the moment it appears, and its entries are reported as `PARENT/NAME`.
// Used by the watcher thread only, except `wake()`, which touches nothing but the immutable pipe.
final class QueueWatcher: @unchecked Sendable {
    /// What the watcher saw since the last call.
    struct Changes {
        var names: [[UInt8]] = []
        var needsRescan = false
        var woken = false
        /// Something changed in `control/`.
        var controlChanged = false
        /// Something arrived in `returns/` (finished jobs sent back by another spool).
        var returnsChanged = false
    }

    private let directory: String
    private let controlDirectory: String?
    private let inotify: Inotify?
    private var watch: Int32?
    private var controlWatch: Int32?
    private let returnsDirectory: String?
    private var returnsWatch: Int32?
    /// Watches on batch subdirectories, by watch descriptor: the parent id each one belongs to.
    private var batchWatches: [Int32: String] = [:]
    private var batchWatchByParent: [String: Int32] = [:]
    private var warnedAboutWatchLimit = false
    private let wakePipe: (read: FileDescriptor, write: FileDescriptor)

    /// `useInotify: false` is poll mode.
    init(
        directory: String, controlDirectory: String? = nil, returnsDirectory: String? = nil, useInotify: Bool
    ) throws(SpoolError) {
        self.directory = directory
        self.controlDirectory = controlDirectory
        self.returnsDirectory = returnsDirectory
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
        if let returnsDirectory {
            returnsWatch = try? inotify.addWatch(returnsDirectory)
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
                if let returnsWatch, event.watch == returnsWatch {
                    changes.returnsChanged = true
                    if event.watchEnded { self.returnsWatch = nil }
                } else if let controlWatch, event.watch == controlWatch {
                    changes.controlChanged = true
                    if event.watchEnded { self.controlWatch = nil }
                } else if event.isOverflow {
                    changes.needsRescan = true
                    changes.controlChanged = true
                } else if let parent = batchWatches[event.watch] {
                    if event.watchEnded {
                        // A batch directory moved away keeps its watch: drop it.
                        inotify.removeWatch(event.watch)
                        forgetBatchWatch(event.watch, parent: parent)
                    } else if arrivalNeedsLook(event, in: directory + "/" + parent) {
                        changes.names.append(Array((parent + "/").utf8) + event.rawName)
                    }
                } else if event.watch != watch {
                    // The last events of a batch watch already dropped (IN_IGNORED after IN_DELETE_SELF).
                    continue
                } else if event.watchEnded {
                    watch = nil
                    changes.needsRescan = true
                } else if event.isDirectory, let parent = Self.batchDirectoryName(event.rawName) {
                    // A batch published (or created) in queued/: watch it, then list what it holds.
                    changes.names += scanBatch(parent)
                } else if arrivalNeedsLook(event, in: directory) {
                    changes.names.append(event.rawName)
                }
            }
        }
        return changes
    }

    /// Whether an event names an entry to examine now. A regular file being written in place
    /// waits for IN_CLOSE_WRITE; symbolic and hard links, FIFOs and sockets never get one, so
    /// they are looked at on IN_CREATE.
    private func arrivalNeedsLook(_ event: InotifyEvent, in directory: String) -> Bool {
        guard event.mask & Inotify.createdMask != 0 else { return true }
        if event.isDirectory { return true }
        let status = try? FileSystem.statusNotFollowing(directory: directory, rawName: event.rawName)
        guard let status else { return false }
        return status.kind != .regular || status.linkCount > 1
    }

    /// Every entry of the directory, and of each batch subdirectory as `PARENT/NAME` (the truth
    /// that events only hint at); batch subdirectories get their watches here too. Handed to
    /// `body` a slice of names at a time while the directory is read: a queue of a million jobs
    /// is never held as one list of names, and the first slice is dispatched while the rest is
    /// read. Stops early when `body` returns false.
    func scan(inSlicesOf size: Int, _ body: ([[UInt8]]) -> Bool) {
        var names: [[UInt8]] = []
        var present = Set<String>()
        var stopped = false
        try? FileSystem.forEachEntry(in: directory) { entry in
            if entry.kindHint == .directory || entry.kindHint == nil,
                let parent = Self.batchDirectoryName(entry.rawName),
                (try? FileSystem.statusNotFollowing(directory + "/" + parent))?.kind == .directory
            {
                present.insert(parent)
                names += scanBatch(parent)
            } else {
                names.append(entry.rawName)
            }
            if names.count >= size {
                let goOn = body(names)
                names.removeAll(keepingCapacity: true)
                if !goOn {
                    stopped = true
                    return false
                }
            }
            return true
        }
        if !names.isEmpty && !stopped { _ = body(names) }
        // A stopped scan saw only part of the directory: it says nothing of the others.
        guard !stopped else { return }
        for (parent, watch) in batchWatchByParent where !present.contains(parent) {
            inotify?.removeWatch(watch)
            forgetBatchWatch(watch, parent: parent)
        }
    }

    /// The parent id a subdirectory of `queued/` belongs to, when its name makes it a batch
    /// directory: a valid job id not ending in `.json` (a directory named like a job file is
    /// bad input, rejected as such).
    static func batchDirectoryName(_ rawName: [UInt8]) -> String? {
        guard !rawName.ends(with: Array(JobID.fileExtension.utf8)),
            let name = String(validating: rawName, as: UTF8.self), JobID.isValid(name)
        else { return nil }
        return name
    }

    /// Watches a batch subdirectory (once) and lists it: entries as `PARENT/NAME`. A symbolic
    /// link is not a batch directory (it is reported as an entry, and rejected as bad input).
    private func scanBatch(_ parent: String) -> [[UInt8]] {
        let path = directory + "/" + parent
        guard (try? FileSystem.statusNotFollowing(path))?.kind == .directory else { return [Array(parent.utf8)] }
        if let inotify, batchWatchByParent[parent] == nil {
            do {
                let watch = try inotify.addWatch(path, mask: Inotify.jobArrivalMask | Inotify.doNotFollowMask)
                batchWatches[watch] = parent
                batchWatchByParent[parent] = watch
            } catch {
                // Past fs.inotify.max_user_watches the rescan timer still finds every child.
                if !warnedAboutWatchLimit {
                    Diagnostics.warn("cannot watch \(path) (\(error)); its jobs are found by rescans")
                    warnedAboutWatchLimit = true
                }
            }
        }
        let prefix = Array((parent + "/").utf8)
        return ((try? FileSystem.listDirectory(path)) ?? []).map { prefix + $0.rawName }
    }

    private func forgetBatchWatch(_ watch: Int32, parent: String) {
        batchWatches[watch] = nil
        if batchWatchByParent[parent] == watch { batchWatchByParent[parent] = nil }
    }
}
