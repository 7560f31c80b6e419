import SpoolJSON
import SpoolSystem

/// How far a report got: written beside its partial output in the job's work directory
/// (`processors/work/ID/checkpoint.json`) after every chunk, by rename, so it always describes
/// output that was completely written. The next attempt truncates the output to `outputBytes`
/// and continues after `consumedRecords` source records.
struct ReportCheckpoint: Equatable {
    /// Identifies the input and settings the checkpoint belongs to; any change means start over.
    var fingerprint: String
    var chunks = 0
    /// Source records read (good and bad).
    var consumedRecords = 0
    var writtenRecords = 0
    var failedRecords = 0
    /// Source bytes read: where a seekable source resumes.
    var sourceOffset = 0
    /// Bytes of output that the checkpoint vouches for.
    var outputBytes = 0
    /// CSV output: the header's columns, fixed by the first chunk.
    var columns: [String]?

    init(fingerprint: String) { self.fingerprint = fingerprint }

    static func path(in workDirectory: String) -> String { workDirectory + "/checkpoint.json" }

    /// The checkpoint in a work directory, if there is a readable one.
    static func load(from workDirectory: String) -> ReportCheckpoint? {
        guard let bytes = try? FileSystem.readFile(path(in: workDirectory), limit: 1 << 20),
            let object = (try? JSONParser.parse(bytes))?.objectValue,
            let fingerprint = object["fingerprint"]?.stringValue
        else { return nil }
        var checkpoint = ReportCheckpoint(fingerprint: fingerprint)
        checkpoint.chunks = object["chunks"]?.intValue ?? 0
        checkpoint.consumedRecords = object["consumedRecords"]?.intValue ?? 0
        checkpoint.writtenRecords = object["writtenRecords"]?.intValue ?? 0
        checkpoint.failedRecords = object["failedRecords"]?.intValue ?? 0
        checkpoint.sourceOffset = object["sourceOffset"]?.intValue ?? 0
        checkpoint.outputBytes = object["outputBytes"]?.intValue ?? 0
        checkpoint.columns = object["columns"]?.arrayValue?.compactMap(\.stringValue)
        return checkpoint
    }

    /// Replaces the checkpoint atomically (a new file renamed over the old one).
    func save(in workDirectory: String) throws(SystemError) {
        var object = JSONObject([
            ("fingerprint", .string(fingerprint)), ("chunks", JSONValue(chunks)),
            ("consumedRecords", JSONValue(consumedRecords)), ("writtenRecords", JSONValue(writtenRecords)),
            ("failedRecords", JSONValue(failedRecords)), ("sourceOffset", JSONValue(sourceOffset)),
            ("outputBytes", JSONValue(outputBytes)),
        ])
        if let columns { object["columns"] = .array(columns.map(JSONValue.string)) }
        try FileSystem.writeAtomically(
            JSONWriter.write(.object(object)), to: Self.path(in: workDirectory), durable: false)
    }
}
