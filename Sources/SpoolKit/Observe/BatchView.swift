import SpoolJSON

/// A parent's children as `spool show` presents them, read from the batch directories at one
/// moment: each child's state and record counts, and the parent's progress derived from them.
public struct BatchView: Sendable {
    public let progress: BatchProgress
    public let children: [BatchChild]

    public init(spool: Spool, id: String, record: JobRecord) {
        let tree = BatchTree(layout: spool.layout, parent: id)
        children = tree.readChildren(sizeLimit: max(spool.configuration.maximumJobBytes, 64 * 1024 * 1024))
        progress = BatchProgress(childCount: record.childCount ?? children.count, children: children)
    }

    /// One child in `show --json`'s `childJobs`.
    public static func jsonValue(_ child: BatchChild) -> JSONValue {
        let counts = child.counts
        var object = JSONObject([
            ("id", .string(child.id)), ("state", .string(child.state.displayName)),
            ("attempts", JSONValue(child.record?.attempts ?? 0)), ("total", JSONValue(counts.total)),
            ("processed", JSONValue(counts.processed)), ("succeeded", JSONValue(counts.succeeded)),
            ("failed", JSONValue(counts.failed)),
        ])
        if let error = child.record?.error { object["error"] = .string(error) }
        return .object(object)
    }

    /// What `spool show --json` prints for `job`: its summary, and for a parent the children's
    /// counts, records, progress and every child.
    public static func showValue(of job: JobSummary, batch: BatchView?) -> JSONValue {
        var value = job.jsonValue
        if let batch, case .object(var object) = value {
            object["children"] = batch.progress.childrenValue
            object["records"] = batch.progress.recordsValue
            object["progress"] = JSONValue(batch.progress.percent)
            object["childJobs"] = .array(batch.children.map(BatchView.jsonValue))
            value = .object(object)
        }
        return value
    }
}
