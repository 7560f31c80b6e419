import Glibc

/// A directory of the cgroup v2 hierarchy: a set of processes that contains every descendant of
/// its members, whatever they do with sessions and process groups, and that can be killed whole.
/// Only membership and killing are used, so no controller needs to be enabled.
public struct ControlGroup: Sendable, Hashable {
    /// The absolute path of the cgroup's directory.
    public let path: String

    public init(path: String) { self.path = path }

    /// The cgroup v2 hierarchy as this process sees it: where it is mounted and the cgroup this
    /// process is in (its own directory there); nil when there is no cgroup v2 mount.
    public static let ownHierarchy: ControlGroup? = {
        guard let mounts = try? FileSystem.readWholeFile("/proc/self/mountinfo", limit: 1 << 20),
            let membership = try? FileSystem.readWholeFile("/proc/self/cgroup", limit: 1 << 16)
        else { return nil }
        // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE SUPEROPTIONS
        var mountPoint: String?
        for line in String(decoding: mounts, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count, fields[dash + 1] == "cgroup2",
                fields.count > 4, fields[3] == "/"
            else { continue }
            mountPoint = String(fields[4])
            break
        }
        // The v2 line of /proc/self/cgroup is "0::PATH".
        let ownPath = String(decoding: membership, as: UTF8.self).split(separator: "\n")
            .first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) }
        guard let mountPoint, let ownPath, !ownPath.contains(" (deleted)") else { return nil }
        return ControlGroup(path: ownPath == "/" ? mountPoint : mountPoint + ownPath)
    }()

    /// The child cgroup `name` (not created).
    public func child(_ name: String) -> ControlGroup { ControlGroup(path: path + "/" + name) }

    /// Creates the cgroup (mkdir); succeeds when it exists.
    public func create() throws(SystemError) { try FileSystem.makeDirectory(path) }

    /// `cgroup.procs`, open for writing: a process that writes "0" to it joins the cgroup.
    public func openMembership() throws(SystemError) -> FileDescriptor {
        try FileSystem.open(path + "/cgroup.procs", O_WRONLY | O_NOFOLLOW)
    }

    /// The processes in the cgroup (not its children's).
    public func processIDs() -> [pid_t] {
        guard let bytes = try? FileSystem.readWholeFile(path + "/cgroup.procs", limit: 1 << 20) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { pid_t($0) }
    }

    /// Whether any process is in the cgroup or below it (`populated` of cgroup.events).
    public var isPopulated: Bool {
        guard let bytes = try? FileSystem.readWholeFile(path + "/cgroup.events", limit: 4096) else {
            return !processIDs().isEmpty
        }
        return String(decoding: bytes, as: UTF8.self).contains("populated 1")
    }

    /// Sends SIGKILL to every process in the cgroup and below it, and waits (up to `timeout`
    /// seconds) until none is left. `cgroup.kill` (Linux 5.14) kills atomically, so nothing forks
    /// its way out; older kernels get repeated rounds of kill(2). Returns whether it emptied.
    @discardableResult
    public func killAll(timeout: Double = 5) -> Bool {
        let deadline = ProcessInfoLite.monotonicNow() + timeout
        let atomic = (try? FileSystem.writeSmallFile(path + "/cgroup.kill", "1")) != nil
        var pause = 0.0005
        while isPopulated {
            if !atomic { for pid in processIDs() where pid > 0 { _ = Glibc.kill(pid, SIGKILL) } }
            if ProcessInfoLite.monotonicNow() >= deadline { return false }
            ProcessInfoLite.sleep(seconds: pause)
            pause = min(pause * 2, 0.05)
        }
        return true
    }

    /// Removes the (empty) cgroup's directory; a cgroup already gone is not an error.
    public func remove() throws(SystemError) {
        do { try FileSystem.removeDirectory(path) } catch  where error.isNotFound {}
    }

    /// The names of the child cgroups.
    public func childNames() -> [String] {
        ((try? FileSystem.listDirectory(path)) ?? []).compactMap { entry in
            guard let name = entry.name, entry.kindHint == .directory || entry.kindHint == nil,
                FileSystem.isRealDirectory(path + "/" + name)
            else { return nil }
            return name
        }
    }
}

extension FileSystem {
    /// Writes `text` to an existing file in one write(2), as kernel interfaces (cgroup, proc)
    /// expect: no creation, no truncation, no following of links.
    package static func writeSmallFile(_ path: String, _ text: String) throws(SystemError) {
        let fd = try open(path, O_WRONLY | O_NOFOLLOW)
        defer { fd.close() }
        try fd.writeAll(Array(text.utf8), path: path)
    }
}
