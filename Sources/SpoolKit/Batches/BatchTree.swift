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

    /// Whether any child is queued, held or running. Cheap: three directory listings.
    public func hasUnfinishedChildren() -> Bool {
        [JobState.queued, .held, .processing].contains { !children(in: $0).isEmpty }
    }

    /// Sums of what the children report: the census plus record counts, read from every child.
    public func progress(childCount: Int, sizeLimit: Int) -> BatchProgress {
        var progress = BatchProgress(childCount: childCount, children: census())
        for (state, ids) in progress.children {
            for id in ids {
                guard let bytes = try? FileSystem.readFile(layout.jobPath(id, in: state), limit: sizeLimit),
                    let record = try? JobRecord(parsing: bytes, path: id)
                else { continue }
                let counts = ChildRecordCounts(record: record, state: state)
                progress.total += counts.total
                progress.processed += counts.processed
                progress.succeeded += counts.succeeded
                progress.failed += counts.failed
            }
        }
        return progress
    }
}

/// What one child contributes to its parent's record counts: what its handler reported through
/// the progress protocol (`processed N succeeded N failed N`), else, for a child that succeeded
/// without reporting, its whole batch as processed and succeeded.
struct ChildRecordCounts {
    var total = 0
    var processed = 0
    var succeeded = 0
    var failed = 0

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
    /// Items in all children, and what their handlers report of them.
    public var total = 0
    public var processed = 0
    public var succeeded = 0
    public var failed = 0

    public init(childCount: Int, children: [JobState: [String]]) {
        self.childCount = childCount
        self.children = children
    }

    public func count(_ state: JobState) -> Int { children[state]?.count ?? 0 }

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
