import SpoolJSON
import SpoolSystem

/// A job as its file holds it: the submitter's fields (kept in order, unknown ones included)
/// plus what the processor records as the job moves.
public struct JobRecord: Sendable, Equatable {
    /// Every field of the file, in order.
    public var fields: JSONObject

    /// Named priorities and their integer values (`medium` is the seeds' name for `normal`).
    public static let namedPriorities: [(name: String, value: Int)] = [
        ("low", -10), ("normal", 0), ("medium", 0), ("high", 10), ("critical", 20),
    ]
    public static let priorityRange = -1000...1000

    public init(fields: JSONObject) { self.fields = fields }

    /// Parses and validates a job file's bytes. `path` is used in error messages only.
    public init(parsing bytes: [UInt8], path: String) throws(SpoolError) {
        let value: JSONValue
        do { value = try JSONParser.parse(bytes) } catch {
            throw .invalidJob(path: path, reason: "malformed JSON: \(error)")
        }
        guard case .object(let object) = value else {
            throw .invalidJob(path: path, reason: "a job must be a JSON object, not \(value.kindName)")
        }
        self.fields = object
        if let problem = validationProblem() { throw .invalidJob(path: path, reason: problem) }
    }

    /// The first problem with the fields the spool interprets, or nil.
    public func validationProblem() -> String? {
        guard let typeValue = fields["type"] else { return "the required field \"type\" is missing" }
        guard let type = typeValue.stringValue else { return "\"type\" must be a string, not \(typeValue.kindName)" }
        if type.isEmpty || type.utf8.count > 128 { return "\"type\" must be 1 to 128 characters" }
        if let priorityValue = fields["priority"], JobRecord.priority(from: priorityValue) == nil {
            let names = JobRecord.namedPriorities.map(\.name).joined(separator: ", ")
            return "\"priority\" must be an integer from -1000 to 1000 or one of \(names)"
        }
        if let timeout = fields["timeout"], !(timeout.doubleValue.map { $0 > 0 } ?? false) {
            return "\"timeout\" must be a positive number of seconds"
        }
        if let attempts = fields["maxAttempts"], !(attempts.intValue.map { $0 >= 1 } ?? false) {
            return "\"maxAttempts\" must be a positive integer"
        }
        if let limits = fields["limits"] {
            do { _ = try ResourceLimits(parsing: limits, name: "limits") } catch { return error.message }
        }
        if let problem = dependencyProblem() { return problem }
        if let batch = fields["batch"] {
            do { _ = try BatchSpecification(parsing: batch, payload: fields["payload"]) } catch { return error.message }
        }
        return nil
    }

    static func priority(from value: JSONValue) -> Int? {
        if let number = value.intValue, JobRecord.priorityRange.contains(number) { return number }
        if let name = value.stringValue?.lowercased() {
            return namedPriorities.first { $0.name == name }?.value
        }
        return nil
    }

    // MARK: Submitter's fields

    public var type: String { fields["type"]?.stringValue ?? "" }
    public var priority: Int { fields["priority"].flatMap(JobRecord.priority(from:)) ?? 0 }
    public var timeout: Double? { fields["timeout"]?.doubleValue }
    public var maximumAttempts: Int? { fields["maxAttempts"]?.intValue }
    /// The job's own limits (validated when the record was parsed), which may only lower its type's.
    public var limits: ResourceLimits {
        fields["limits"].flatMap { try? ResourceLimits(parsing: $0, name: "limits") } ?? ResourceLimits()
    }

    // MARK: Processor's fields

    /// The status the record was last written for. In `processing/`, anything but `running`
    /// means the move to that state was under way when a processor stopped.
    public var status: String? {
        get { fields["status"]?.stringValue }
        set { fields["status"] = newValue.map(JSONValue.string) }
    }

    /// Attempts started so far.
    public var attempts: Int {
        get { fields["attempts"]?.intValue ?? 0 }
        set { fields["attempts"] = JSONValue(newValue) }
    }

    /// Attempts that do not count against `maxAttempts`: exit 75 (temporary failure) and
    /// attempts interrupted by a processor's shutdown.
    public var deferredAttempts: Int {
        get { fields["deferredAttempts"]?.intValue ?? 0 }
        set { fields["deferredAttempts"] = newValue == 0 ? nil : JSONValue(newValue) }
    }

    /// Attempts that count against `maxAttempts`.
    public var countedAttempts: Int { max(0, attempts - deferredAttempts) }

    /// Seconds since the epoch before which the job must not start (set by retry backoff).
    public var notBefore: Double? { fields["notBefore"]?.stringValue.flatMap(Timestamp.parse) }

    public var progress: Int? { fields["progress"]?.intValue }
    public var error: String? { fields["error"]?.stringValue }
    public var processorName: String? { fields["processor"]?.objectValue?["name"]?.stringValue }

    public mutating func set(_ key: String, _ value: JSONValue?) { fields[key] = value }

    public func serialized() -> [UInt8] { JSONWriter.write(.object(fields)) }
}
