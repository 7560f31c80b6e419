import CSpoolShims
import Glibc
import Synchronization

/// The children this process spawned and has not reaped yet. A child subreaper also gets the
/// orphans of its children's descendants; this set tells the two apart.
package enum SpawnedChildren {
    // The one global of the spawner: every spawn and every reap, on any thread, must agree on it.
    private static let live = Mutex<Set<pid_t>>([])

    /// Runs `spawn` (which returns 0 and sets the pid on success) with the set locked, so that a
    /// sweep never sees a new child before it is known.
    package static func spawning(_ spawn: () -> Int32, pid: () -> pid_t) -> Int32 {
        live.withLock { live in
            let code = spawn()
            if code == 0 { live.insert(pid()) }
            return code
        }
    }

    package static func forget(_ pid: pid_t) { _ = live.withLock { $0.remove(pid) } }

    /// Runs `body` with the set of live spawned children, locked against spawns.
    package static func withLiveChildren<Result>(_ body: (Set<pid_t>) -> Result) -> Result {
        live.withLock { body($0) }
    }
}

/// The fallback containment where no cgroup can be made: the processor is a child subreaper
/// (prctl(PR_SET_CHILD_SUBREAPER)), so a descendant that leaves its job's session or process
/// group is re-parented to the processor when its parent exits, instead of to init. A sweep
/// then kills and reaps every such orphan whose job is no longer running.
public enum OrphanReaper {
    /// Makes this process the subreaper of its descendants; false where the kernel refuses.
    public static func becomeSubreaper() -> Bool { spool_become_subreaper() == 0 }

    /// Kills and reaps the orphans re-parented to this process: children it did not spawn,
    /// except those whose `SPOOL_JOB_ID` names a job in `runningJobs` (still the job's). Repeats
    /// while killing one lets its own children fall to this process. Returns how many went.
    @discardableResult
    public static func sweep(keeping runningJobs: Set<String>) -> Int {
        var removed = 0
        for _ in 0..<16 {
            let orphans = SpawnedChildren.withLiveChildren { spawned in
                childProcessIDs().filter { !spawned.contains($0) }
            }
            var changed = false
            for pid in orphans {
                if let job = environmentValue("SPOOL_JOB_ID", ofProcess: pid), runningJobs.contains(job),
                    !isZombie(pid)
                {
                    continue
                }
                _ = Glibc.kill(pid, SIGKILL)
                var status: Int32 = 0
                if case .success(let reaped) = retryingInterrupts({ waitpid(pid, &status, 0) }), reaped == pid {
                    removed += 1
                    changed = true
                }
            }
            if !changed { break }
        }
        return removed
    }

    /// Sends SIGKILL to every other process that has the file `target` open for writing (found
    /// through /proc/PID/fd), and returns how many there were. For what a stopped processor's job
    /// left behind where no cgroup holds it: they hold the attempt's result as their stdout.
    public static func killProcesses(holdingForWriting target: FileStatus) -> Int {
        let own = getpid()
        var killed = 0
        for process in (try? FileSystem.listDirectory("/proc")) ?? [] {
            guard let name = process.name, let pid = pid_t(name), pid != own else { continue }
            for descriptor in (try? FileSystem.listDirectory("/proc/\(name)/fd")) ?? [] {
                guard let number = descriptor.name else { continue }
                var raw = Glibc.stat()
                let statFile: (UnsafePointer<CChar>, UnsafeMutablePointer<Glibc.stat>) -> Int32 = Glibc.stat(_:_:)
                guard case .success = retryingInterrupts({ statFile("/proc/\(name)/fd/\(number)", &raw) }),
                    UInt64(raw.st_ino) == target.inode, UInt64(raw.st_dev) == target.device,
                    isOpenForWriting(pid: name, descriptor: number)
                else { continue }
                if Glibc.kill(pid, SIGKILL) == 0 { killed += 1 }
                break
            }
        }
        return killed
    }

    /// Whether descriptor `descriptor` of process `pid` was opened for writing (its fdinfo flags).
    private static func isOpenForWriting(pid: String, descriptor: String) -> Bool {
        guard let bytes = try? FileSystem.readWholeFile("/proc/\(pid)/fdinfo/\(descriptor)", limit: 4096) else {
            return false
        }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("flags:") {
            guard let flags = Int32(line.dropFirst(6).trimmingWhitespace(), radix: 8) else { return false }
            return flags & O_ACCMODE != O_RDONLY
        }
        return false
    }

    /// The pids of this process's children, from /proc/self/task/*/children.
    package static func childProcessIDs() -> [pid_t] {
        var pids: [pid_t] = []
        for entry in (try? FileSystem.listDirectory("/proc/self/task")) ?? [] {
            guard let task = entry.name, task.first?.isNumber == true,
                let bytes = try? FileSystem.readWholeFile("/proc/self/task/\(task)/children", limit: 1 << 20)
            else { continue }
            pids += String(decoding: bytes, as: UTF8.self).split(separator: " ").compactMap {
                pid_t($0.trimmingWhitespace())
            }
        }
        return pids
    }

    /// A variable of another process's environment as it was at its exec (/proc/PID/environ).
    package static func environmentValue(_ name: String, ofProcess pid: pid_t) -> String? {
        guard let bytes = try? FileSystem.readWholeFile("/proc/\(pid)/environ", limit: 1 << 20) else { return nil }
        let prefix = Array((name + "=").utf8)
        for entry in bytes.split(separator: 0) where entry.starts(with: prefix) {
            return String(decoding: entry.dropFirst(prefix.count), as: UTF8.self)
        }
        return nil
    }

    package static func isZombie(_ pid: pid_t) -> Bool {
        guard let bytes = try? FileSystem.readWholeFile("/proc/\(pid)/stat", limit: 4096),
            let close = bytes.lastIndex(of: UInt8(ascii: ")")), close + 2 < bytes.count
        else { return true }
        return bytes[close + 2] == UInt8(ascii: "Z")
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> Substring {
        var result = self
        while let last = result.last, last.isWhitespace { result = result.dropLast() }
        while let first = result.first, first.isWhitespace { result = result.dropFirst() }
        return result
    }
}
