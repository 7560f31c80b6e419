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
        let hostPart = String(decoding: Array(host.utf8).filter(JobID.isAllowed).prefix(64), as: UTF8.self)
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
                let name = (hostPart.isEmpty ? "host" : hostPart) + "-\(pid)-\(Int64(now * 1000))"
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
        let host = String(
            decoding: Array(ProcessInfoLite.hostName.utf8).filter(JobID.isAllowed).prefix(64), as: UTF8.self)
        let parts = name.split(separator: "-")
        return parts.count >= 3 && parts.dropLast(2).joined(separator: "-") == (host.isEmpty ? "host" : host)
    }

    /// True when the named processor ran on this host and its process is gone, although its lock
    /// is still held: handlers it started are still running, and their jobs will be recoverable
    /// once they end.
    func isOrphanedOnThisHost(_ name: String) -> Bool {
        let host = String(
            decoding: Array(ProcessInfoLite.hostName.utf8).filter(JobID.isAllowed).prefix(64), as: UTF8.self)
        let parts = name.split(separator: "-")
        guard parts.count >= 3, let pid = Int32(parts[parts.count - 2]),
            parts.dropLast(2).joined(separator: "-") == (host.isEmpty ? "host" : host)
        else { return false }
        return !ProcessInfoLite.isAlive(pid)
    }

    /// Removes lock files of processors found dead (after their jobs were recovered).
    func removeDeadLocks() {
        for (name, alive) in known where !alive {
            try? FileSystem.unlinkIfPresent(layout.processorsDirectory + "/" + name + ".lock")
        }
    }
}
