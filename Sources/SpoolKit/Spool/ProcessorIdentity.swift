import SpoolJSON
import SpoolSystem

/// Who a processor is (host, pid, start time) and the lock that says it is alive.
///
/// Each `spool run` holds an exclusive flock on `processors/NAME.lock` for its whole life, and
/// every handler it spawns inherits that open file. The lock is free again only when the processor
/// **and** every handler it started are gone, so a recovering processor that gets the lock knows
/// no process of the owner can still be running the job. flock works between hosts on NFSv4
/// (Linux maps it to byte-range locks); see docs/FORMAT.md.
public final class ProcessorIdentity: Sendable {
    public let host: String
    public let pid: Int32
    public let startedAt: String
    /// `HOST-PID-STARTMILLIS`, restricted to job-id characters; the lock file's name.
    public let name: String
    /// The open, locked `processors/NAME.lock`.
    let lock: FileDescriptor
    let lockPath: String

    /// Creates and locks the processor's lock file. It is locked before it becomes visible
    /// (created under tmp/, locked, renamed in), so no one can see it unlocked while we live.
    public init(layout: SpoolLayout) throws(SpoolError) {
        host = ProcessInfoLite.hostName
        pid = ProcessInfoLite.currentProcessID
        let hostPart = Self.namePart(ofHost: host)
        let temporary = layout.temporaryPath("processor")
        do throws(SystemError) {
            let fd = try FileSystem.createExclusive(temporary)
            guard (try? fd.lockExclusive(path: temporary)) == true else {
                fd.close()
                try? FileSystem.unlinkIfPresent(temporary)
                throw SystemError("lock", path: temporary, code: ErrnoCode.tryAgain)
            }
            let started = ProcessInfoLite.now()
            do throws(SystemError) {
                try fd.writeAll(Array("\(host) \(pid) \(Timestamp.format(started))\n".utf8), path: temporary)
            } catch {
                fd.close()
                try? FileSystem.unlinkIfPresent(temporary)
                throw error
            }
            // Names carry the start in milliseconds: a second processor started by the same
            // process within the same millisecond (an embedding program) waits for the next one.
            while true {
                let now = ProcessInfoLite.now()
                let name = hostPart + "-\(pid)-\(Int64(now * 1000))"
                let lockPath = layout.processorsDirectory + "/" + name + ".lock"
                do throws(SystemError) {
                    try FileSystem.renameNoReplace(temporary, to: lockPath)
                } catch  where error.isAlreadyExists {
                    ProcessInfoLite.sleep(seconds: 0.001)
                    continue
                } catch {
                    fd.close()
                    try? FileSystem.unlinkIfPresent(temporary)
                    throw error
                }
                (self.name, self.lockPath, self.startedAt, self.lock) = (name, lockPath, Timestamp.format(started), fd)
                break
            }
        } catch {
            throw .system(error)
        }
    }

    /// The host part of a processor's name: the host name restricted to id characters, at most
    /// 64 bytes, `host` if nothing remains.
    static func namePart(ofHost host: String) -> String {
        let part = String(decoding: Array(host.utf8).filter(JobID.isAllowed).prefix(64), as: UTF8.self)
        return part.isEmpty ? "host" : part
    }

    /// Releases the lock and removes the lock file (clean exit).
    public func release() {
        try? FileSystem.unlinkIfPresent(lockPath)
        lock.close()
    }

    /// The `processor` field recorded in jobs this processor runs.
    var recordValue: JSONValue {
        .object(
            JSONObject([
                ("name", .string(name)), ("host", .string(host)), ("pid", JSONValue(Int(pid))),
                ("startedAt", .string(startedAt)),
            ]))
    }
}

/// Decides whether the processor named in a record still lives, by trying its lock.
struct ProcessorLiveness {
    let layout: SpoolLayout
    let ownName: String?
    private var known: [String: Bool] = [:]

    init(layout: SpoolLayout, ownName: String?) {
        self.layout = layout
        self.ownName = ownName
    }

    /// True while the processor or any handler it spawned holds its lock.
    mutating func isAlive(_ name: String) -> Bool {
        if name == ownName { return true }
        if let answer = known[name] { return answer }
        guard JobID.isValid(name) else { return false }
        let path = layout.processorsDirectory + "/" + name + ".lock"
        let alive: Bool
        do {
            let fd = try FileSystem.open(path, OpenFlags.readOnly | OpenFlags.noFollow)
            defer { fd.close() }
            alive = !(try fd.lockExclusive(path: path))
        } catch {
            // No lock file: the processor exited cleanly or was cleaned up; no lock we can test:
            // assume alive rather than steal (a message says why the job is not recovered).
            alive = !error.isNotFound
        }
        known[name] = alive
        return alive
    }

    /// True when the named processor ran on this host.
    func isOnThisHost(_ name: String) -> Bool {
        let parts = name.split(separator: "-")
        return parts.count >= 3
            && parts.dropLast(2).joined(separator: "-") == ProcessorIdentity.namePart(ofHost: ProcessInfoLite.hostName)
    }

    /// True when the named processor ran on this host and its process is gone, although its lock
    /// is still held: handlers it started are still running, and their jobs will be recoverable
    /// once they end.
    func isOrphanedOnThisHost(_ name: String) -> Bool {
        let parts = name.split(separator: "-")
        guard isOnThisHost(name), let pid = Int32(parts[parts.count - 2]) else { return false }
        return !ProcessInfoLite.isAlive(pid)
    }

    /// Removes the lock file of every processor that is gone (run after its jobs were
    /// recovered): any `processors/NAME.lock` whose lock no process holds, whether or not a job
    /// named its processor. A processor killed with -9 whose handlers still run keeps its lock
    /// held, and its file, until they end.
    func removeDeadLocks() {
        for name in ProcessorLocks.names(in: layout) where name != ownName {
            ProcessorLocks.removeIfDead(name, layout: layout)
        }
    }
}

/// The lock files in `processors/` (`NAME.lock`; dot files such as `.recovery.lock` are not
/// processors') and the removal of those left by processors that are gone.
enum ProcessorLocks {
    /// The processor names of the lock files in `processors/`.
    static func names(in layout: SpoolLayout) -> [String] {
        ((try? FileSystem.listDirectory(layout.processorsDirectory)) ?? []).compactMap { entry in
            guard let file = entry.name, file.hasSuffix(".lock") else { return nil }
            let name = String(file.dropLast(5))
            return JobID.isValid(name) ? name : nil
        }
    }

    /// The lock file of a processor that is gone, opened and locked: no other process held its
    /// lock, and the name still refers to the file locked. Nil while the processor or a handler
    /// it started holds it, or when it is no regular file or cannot be opened.
    private static func lockIfDead(_ path: String) -> FileDescriptor? {
        let flags = OpenFlags.readOnly | OpenFlags.noFollow | OpenFlags.nonBlocking
        guard let fd = try? FileSystem.open(path, flags) else { return nil }
        guard (try? fd.lockExclusive(path: path)) == true, let opened = try? fd.status(path: path),
            opened.kind == .regular, let current = try? FileSystem.statusNotFollowing(path),
            current.isSameFile(as: opened)
        else {
            fd.close()
            return nil
        }
        return fd
    }

    /// Whether `processors/NAME.lock` is a dead processor's: present, and its lock free.
    static func isDead(_ name: String, layout: SpoolLayout) -> Bool {
        guard let fd = lockIfDead(layout.processorsDirectory + "/" + name + ".lock") else { return false }
        fd.close()
        return true
    }

    /// Removes `processors/NAME.lock` if its processor is gone: the file is unlinked while this
    /// process holds its lock, so a live processor's (or one whose handlers still run) is never
    /// touched. Returns whether it was removed.
    @discardableResult
    static func removeIfDead(_ name: String, layout: SpoolLayout) -> Bool {
        let path = layout.processorsDirectory + "/" + name + ".lock"
        guard let fd = lockIfDead(path) else { return false }
        defer { fd.close() }
        return (try? FileSystem.unlink(path)) != nil
    }

    /// What a lock file says of its processor (`HOST PID STARTEDAT`), for messages: `pid 12 on
    /// HOST, started 2026-…`, or nil when it says nothing readable.
    static func describe(_ name: String, layout: SpoolLayout) -> String? {
        let path = layout.processorsDirectory + "/" + name + ".lock"
        let words = ((try? FileSystem.readFile(path, limit: 4096)) ?? []).split(whereSeparator: { $0 <= 0x20 })
            .map { String(decoding: $0, as: UTF8.self) }
        guard words.count >= 3 else { return nil }
        return "pid \(words[1]) on \(words[0]), started \(words[2])"
    }
}
