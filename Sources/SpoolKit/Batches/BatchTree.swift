import SpoolJSON
import SpoolSystem
import Synchronization

/// A parent's children as the directories hold them: `STATE/PARENT/CHILD.json` for each state.
/// Everything the spool says about a batch is derived from this tree, so it cannot drift.
public struct BatchTree: Sendable {
    public let layout: SpoolLayout
    public let parent: String

    public init(layout: SpoolLayout, parent: String) {
        self.layout = layout
        self.parent = parent
    }

    /// The ids (`PARENT/CHILD`) of the children in one state, in batch order.
    public func children(in state: JobState) -> [String] {
        let entries = (try? FileSystem.listDirectory(layout.batchDirectory(parent, in: state))) ?? []
        return entries.compactMap { JobID.id(fromFileName: $0.rawName) }.sorted().map { parent + "/" + $0 }
    }

    /// Children in every state.
    public func census() -> [JobState: [String]] {
        var result: [JobState: [String]] = [:]
        for state in JobState.allCases { result[state] = children(in: state) }
        return result
    }

    /// Whether any child is queued, held or running. Cheap: reads each directory only until
    /// its first child (a full listing per finished child would cost O(children²) per batch).
    public func hasUnfinishedChildren() -> Bool {
        [JobState.queued, .processing, .held].contains { state in
            FileSystem.directoryContains(layout.batchDirectory(parent, in: state)) { JobID.id(fromFileName: $0) != nil }
        }
    }

    /// Every child with its state and record, in batch order (each file read once).
    public func readChildren(sizeLimit: Int) -> [BatchChild] {
        var result: [BatchChild] = []
        for (state, ids) in census() {
            for id in ids {
                let record = (try? FileSystem.readFile(layout.jobPath(id, in: state), limit: sizeLimit))
                    .flatMap { try? JobRecord(parsing: $0, path: id) }
                result.append(BatchChild(id: id, state: state, record: record))
            }
        }
        return result.sorted { $0.id < $1.id }
    }

    /// Sums of what the children report: the census plus record counts. A child is read only
    /// when `cache` has not seen its file as it is now (same inode, size and change time), so
    /// settling a parent again costs a stat per child, not a parse.
    public func progress(childCount: Int, sizeLimit: Int, cache: ChildCountsCache? = nil) -> BatchProgress {
        var children: [(id: String, state: JobState, counts: ChildRecordCounts)] = []
        var seen = Set<String>()
        func count(_ id: String, in state: JobState) -> Bool {
            let path = layout.jobPath(id, in: state)
            guard let status = try? FileSystem.statusNotFollowing(path) else { return false }
            let key = ChildCountsCache.Key(
                path: path, inode: status.inode, size: status.size, changed: status.changeTimeNanoseconds)
            if let counts = cache?.counts(for: key) {
                children.append((id, state, counts))
                seen.insert(id)
                return true
            }
            let record = (try? FileSystem.readFile(path, limit: sizeLimit))
                .flatMap { try? JobRecord(parsing: $0, path: id) }
            let counts = record.map { ChildRecordCounts(record: $0, state: state) } ?? ChildRecordCounts()
            cache?.store(counts, for: key)
            children.append((id, state, counts))
            seen.insert(id)
            return true
        }
        for (state, ids) in census() {
            for id in ids where !seen.contains(id) { _ = count(id, in: state) }
        }
        // The directories are listed one after another: a child that moved meanwhile (to a state
        // listed earlier, or out of one listed later) is looked for again, state by state.
        var missing: [String] = []
        let width = JobID.childNumberWidth(count: childCount)
        for number in 1...max(1, childCount) where childCount > 0 {
            let id = JobID.child(of: parent, number: number, width: width)
            if seen.contains(id) { continue }
            var found = false
            for _ in 0..<3 where !found {
                found = JobState.allCases.contains { count(id, in: $0) }
            }
            if !found { missing.append(id) }
        }
        var progress = BatchProgress(childCount: childCount, counted: children)
        progress.missing = missing
        return progress
    }
}

/// Record counts of child files already read, by file identity: a child's file is replaced
/// (new inode or change time) whenever its record changes, so an entry never goes stale.
public final class ChildCountsCache: Sendable {
    struct Key: Hashable {
        let path: String
        let inode: UInt64
        let size: Int
        let changed: Int64
    }

    private let entries = Mutex<[String: (Key, ChildRecordCounts)]>([:])

    public init() {}

    func counts(for key: Key) -> ChildRecordCounts? {
        entries.withLock { entries in
            guard let (stored, counts) = entries[key.path], stored == key else { return nil }
            return counts
        }
    }

    func store(_ counts: ChildRecordCounts, for key: Key) {
        entries.withLock { entries in
            // Bounded: a processor working through many batches forgets the old ones.
            if entries.count > 200_000 { entries.removeAll() }
            entries[key.path] = (key, counts)
        }
    }
}

/// One child as the tree holds it.
public struct BatchChild: Sendable {
    public let id: String
    public let state: JobState
    /// Nil when the file is not a readable job (bad input kept in its batch).
    public let record: JobRecord?

    /// Its record counts: reported, or its whole batch when it succeeded without reporting.
    public var counts: ChildRecordCounts {
        record.map { ChildRecordCounts(record: $0, state: state) } ?? ChildRecordCounts()
    }
}

/// What one child contributes to its parent's record counts: what its handler reported through
/// the progress protocol (`processed N succeeded N failed N`), else, for a child that succeeded
/// without reporting, its whole batch as processed and succeeded.
public struct ChildRecordCounts: Sendable {
    public var total = 0
    public var processed = 0
    public var succeeded = 0
    public var failed = 0

    init() {}

    init(record: JobRecord, state: JobState) {
        let size = record.fields["batchSize"]?.intValue ?? 0
        let reported = record.fields["records"]?.objectValue
        total = reported?["total"]?.intValue ?? size
        if let reported {
            processed = reported["processed"]?.intValue ?? 0
            succeeded = reported["succeeded"]?.intValue ?? 0
            failed = reported["failed"]?.intValue ?? 0
        } else if state == .done {
            processed = size
            succeeded = size
        }
    }
}

/// A parent's state as derived from its children.
public struct BatchProgress: Sendable, Equatable {
    public var childCount: Int
    /// Child ids by the state directory that holds them.
    public var children: [JobState: [String]]
    /// Children the parent was split into that are in no state directory (removed by hand):
    /// they count as failed.
    public var missing: [String] = []
    /// Items in all children, and what their handlers report of them.
    public var total = 0
    public var processed = 0
    public var succeeded = 0
    public var failed = 0

    public init(childCount: Int, children: [BatchChild]) {
        self.init(childCount: childCount, counted: children.map { ($0.id, $0.state, $0.counts) })
    }

    init(childCount: Int, counted children: [(id: String, state: JobState, counts: ChildRecordCounts)]) {
        self.childCount = childCount
        var byState: [JobState: [String]] = [:]
        for state in JobState.allCases { byState[state] = [] }
        for child in children.sorted(by: { $0.id < $1.id }) {
            byState[child.state, default: []].append(child.id)
            let counts = child.counts
            total += counts.total
            processed += counts.processed
            succeeded += counts.succeeded
            failed += counts.failed
        }
        self.children = byState
    }

    public func count(_ state: JobState) -> Int { children[state]?.count ?? 0 }

    /// The same progress with children by state replaced by a census.
    func with(census: [JobState: [String]]) -> BatchProgress {
        var copy = self
        copy.children = census
        return copy
    }

    /// Children queued, held or running.
    public var unfinished: Int { count(.queued) + count(.held) + count(.processing) }
    public var finished: Int { count(.done) + count(.failed) + count(.cancelled) }

    /// Percent done: processed items over all items, else finished children over all.
    public var percent: Int {
        if total > 0 { return min(100, processed * 100 / total) }
        return childCount > 0 ? min(100, finished * 100 / childCount) : 100
    }

    /// `{"total": 25, "queued": 0, "held": 0, "running": 1, "done": 22, "failed": 2, "cancelled": 0}`
    public var childrenValue: JSONValue {
        var object = JSONObject([("total", JSONValue(childCount))])
        for state in JobState.allCases { object[state.displayName] = JSONValue(count(state)) }
        return .object(object)
    }

    /// `{"total": 10000, "processed": 9200, "succeeded": 9150, "failed": 50}`
    public var recordsValue: JSONValue {
        .object(
            JSONObject([
                ("total", JSONValue(total)), ("processed", JSONValue(processed)),
                ("succeeded", JSONValue(succeeded)), ("failed", JSONValue(failed)),
            ]))
    }
}
