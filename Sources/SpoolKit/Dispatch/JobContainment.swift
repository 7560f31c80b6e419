import SpoolSystem

/// Keeps every process of a job inside the job, so that nothing of it outlives it: not a
/// descendant that calls `setsid()`, not a double fork, not the processor's death.
///
/// - With a writable cgroup v2 hierarchy, each job's processes run in a cgroup of their own,
///   `spool-DEV-INODE/PROCESSOR/job-ID` under the processor's own cgroup; the handler joins it
///   before it execs, and when the job ends the whole cgroup is killed and removed. A processor
///   killed with -9 leaves its cgroups behind: the next recovery pass on this host (any
///   `spool run`, or `spool fsck --repair`) kills and removes those of dead processors.
/// - Otherwise the processor is a child subreaper: descendants that leave the job's process
///   group fall to it when their parent exits, and are killed when their job has ended.
///
/// In both, the handler itself gets SIGKILL when the processor dies (the parent-death signal).
/// `SPOOL_CONTAINMENT=subreaper` (or `none`) in the processor's environment chooses a weaker
/// method on purpose (the tests of the fallback use it).
final class JobContainment: Sendable {
    enum Method: Sendable, Equatable {
        case controlGroups(processor: ControlGroup)
        case subreaper
        case none
    }

    let method: Method

    /// The processes of one job: its cgroup and the handle through which a child joins it.
    struct Enclosure: Sendable {
        let group: ControlGroup?
        let membership: FileDescriptor?

        /// What a job's spawned process is given.
        var ties: JobProcessTies {
            JobProcessTies(controlGroupProcesses: membership, killedWithSpawningThread: true)
        }
    }

    private init(method: Method) { self.method = method }

    /// Where this spool's processors make their cgroups, as seen from this process's own cgroup:
    /// the spool's root device and inode name it, so that two spools never share one.
    static func spoolGroup(layout: SpoolLayout) -> ControlGroup? {
        guard let hierarchy = ControlGroup.ownHierarchy,
            let root = try? FileSystem.statusNotFollowing(layout.root)
        else { return nil }
        return hierarchy.child("spool-\(root.device)-\(root.inode)")
    }

    /// Chooses the method for a processor named `processorName` and prepares it.
    static func start(layout: SpoolLayout, processorName: String) -> JobContainment {
        let requested = environmentValue("SPOOL_CONTAINMENT") ?? "auto"
        if requested == "none" { return JobContainment(method: .none) }
        if requested != "subreaper", let spoolGroup = spoolGroup(layout: layout) {
            let processorGroup = spoolGroup.child(processorName)
            do throws(SystemError) {
                try spoolGroup.create()
                try processorGroup.create()
                // Joining needs write access to cgroup.procs, not just a directory made.
                try processorGroup.openMembership().close()
                return JobContainment(method: .controlGroups(processor: processorGroup))
            } catch {
                try? processorGroup.remove()
                if requested == "cgroup" {
                    Diagnostics.warn("cannot use cgroups for jobs (\(error)); using a child subreaper instead")
                }
            }
        }
        if OrphanReaper.becomeSubreaper() { return JobContainment(method: .subreaper) }
        if requested == "auto" {
            Diagnostics.warn("jobs are contained by their process groups only (no cgroup, no subreaper)")
        }
        return JobContainment(method: .none)
    }

    /// Prepares the cgroup of job `id` (with the cgroup method); a job whose cgroup cannot be
    /// made runs without one, with a warning, rather than not at all.
    func enclose(_ id: String) -> Enclosure {
        guard case .controlGroups(let processor) = method else { return Enclosure(group: nil, membership: nil) }
        let group = processor.child("job-" + id.replacingOccurrences(of: "/", with: "+"))
        do throws(SystemError) {
            try group.create()
            return Enclosure(group: group, membership: try group.openMembership())
        } catch {
            try? group.remove()
            Diagnostics.warn("could not make the cgroup of job \(id): \(error); it runs in its process group only")
            return Enclosure(group: nil, membership: nil)
        }
    }

    /// Ends whatever is left of a job once its handler has exited: its whole cgroup, or (as
    /// subreaper) the orphans of jobs no longer in `runningJobs`.
    func release(_ enclosure: Enclosure, runningJobs: Set<String>) {
        enclosure.membership?.close()
        if let group = enclosure.group {
            if !group.killAll() { Diagnostics.warn("processes of \(group.path) did not end after SIGKILL") }
            try? group.remove()
        } else if method == .subreaper {
            OrphanReaper.sweep(keeping: runningJobs)
        }
    }

    /// Removes the processor's own cgroup at a clean exit (its jobs' are gone by then).
    func stop() {
        guard case .controlGroups(let processor) = method else { return }
        for name in processor.childNames() {
            let group = processor.child(name)
            group.killAll()
            try? group.remove()
        }
        try? processor.remove()
        // The spool's own cgroup goes with its last processor (rmdir fails while others have theirs).
        try? ControlGroup(path: FileSystem.directoryName(of: processor.path)).remove()
    }

    /// Kills and removes the cgroups that processors found dead left behind on this host: the
    /// processes of their jobs that outlived them. Their jobs' claims are free afterwards.
    static func killLeftovers(layout: SpoolLayout, isAlive: (String) -> Bool) {
        guard let spoolGroup = spoolGroup(layout: layout), FileSystem.isRealDirectory(spoolGroup.path) else {
            return
        }
        for name in spoolGroup.childNames() where !isAlive(name) {
            let processor = spoolGroup.child(name)
            for job in processor.childNames() {
                let group = processor.child(job)
                if group.isPopulated {
                    Diagnostics.warn(
                        "killed what was left of \(job.dropFirst(4)) of processor \(name), which stopped: "
                            + "\(group.processIDs().count) process(es)")
                }
                group.killAll()
                try? group.remove()
            }
            try? processor.remove()
        }
    }
}
