import SpoolSystem

/// What a spool promises about power loss, from `"durability"` in spool.json.
public enum Durability: String, Sendable, CaseIterable {
    /// Every acknowledged state (a submitted id printed, a job counted in `done/`, a result or
    /// dependent published) survives a power cut. A processor groups the flushes of many
    /// concurrent transitions into one commit (see `GroupCommitter`).
    case durable
    /// Nothing is flushed: a process crash loses nothing, a power cut can lose or roll back any
    /// recent transition. For scratch spools.
    case relaxed
    /// Durable like `durable`, but every step flushes its own file and directories at once, with
    /// no grouping: the naive way, kept as the benchmark's baseline.
    case unbatched
}

/// How one store makes its changes durable: the three ways a `Durability` can be carried out.
enum CommitStrategy: Sendable {
    /// No flushing at all.
    case none
    /// fsync of each staged file before it is published and of each directory after a rename,
    /// on the caller's thread.
    case immediate
    /// Flushes shared by every transition pending in this processor, on the committer's thread:
    /// one syncfs per group of several paths, else an fsync.
    case grouped(GroupCommitter)

    /// The strategy for a spool's store: a processor groups its commits; a one-shot command
    /// (submit, cancel) makes one change and flushes it at once.
    static func forStore(_ durability: Durability, isProcessor: Bool, root: String) -> CommitStrategy {
        switch durability {
        case .relaxed: return .none
        case .unbatched: return .immediate
        case .durable: return isProcessor ? .grouped(GroupCommitter(root: root)) : .immediate
        }
    }

    /// The committer when commits are shared among transitions (a processor in `durable` mode):
    /// then a finish is worth handing to a thread that may wait for a group while the worker
    /// goes on, and a start need not wait at all (`RecordLanding`).
    var groupCommitter: GroupCommitter? {
        if case .grouped(let committer) = self { return committer }
        return nil
    }

    /// Makes the data of files about to be published durable (before the rename that
    /// publishes them, so a power cut never leaves a published name on empty or partial data).
    /// `replacesAcknowledged: false` says the name published next replaces nothing anyone relies
    /// on (a result of a job still in `processing/`): grouped mode then lets the next commit
    /// cover it, since a cut before that commit runs the job again anyway.
    func stage(_ paths: [String], replacesAcknowledged: Bool = true) throws(SystemError) {
        switch self {
        case .none: return
        case .immediate: for path in paths { try FileSystem.syncPath(path) }
        case .grouped(let committer):
            // Otherwise the caller notes the published name with `published` (this one will be gone).
            if replacesAcknowledged { try committer.commit(paths) }
        }
    }

    /// Makes renames into and out of `directories` durable (a file named among them is flushed
    /// too). `acknowledged` says that something
    /// will be reported (counted, published, returned) right after; unacknowledged renames are
    /// covered by the next commit in grouped mode (recovery settles them if it never comes).
    func published(in directories: [String], acknowledged: Bool) throws(SystemError) {
        switch self {
        case .none: return
        case .immediate: for path in Set(directories).sorted() { try FileSystem.syncPath(path) }
        case .grouped(let committer):
            if acknowledged { try committer.commit(directories) } else { committer.noteChanged(directories) }
        }
    }
}
