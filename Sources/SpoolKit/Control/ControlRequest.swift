import SpoolJSON
import SpoolSystem

/// A user's request to cancel a job, as recorded in the request file and in the job's record.
public struct CancelRequest: Sendable, Equatable {
    public let jobID: String
    /// Who asked: the user name (or uid) of the process that wrote the request.
    public let requestedBy: String
    public let requestedAt: String
    public let reason: String?
    /// The request file in `control/`, removed once the job is in `cancelled/`.
    public let path: String?

    public init(jobID: String, requestedBy: String, requestedAt: String, reason: String?, path: String? = nil) {
        self.jobID = jobID
        self.requestedBy = requestedBy
        self.requestedAt = requestedAt
        self.reason = reason
        self.path = path
    }

    /// The sentence recorded as the job's `error`.
    public var sentence: String {
        "cancelled by \(requestedBy) at \(requestedAt)" + (reason.map { ": " + $0 } ?? "")
    }

    var jsonValue: JSONValue {
        var object = JSONObject([
            ("action", .string("cancel")), ("id", .string(jobID)), ("requestedBy", .string(requestedBy)),
            ("requestedAt", .string(requestedAt)),
        ])
        if let reason { object["reason"] = .string(reason) }
        return .object(object)
    }

    init?(_ value: JSONValue, path: String) {
        guard let object = value.objectValue, object["action"]?.stringValue == "cancel",
            let id = object["id"]?.stringValue, JobID.referenceProblem(with: id) == nil
        else { return nil }
        self.init(
            jobID: id, requestedBy: object["requestedBy"]?.stringValue ?? "unknown",
            requestedAt: object["requestedAt"]?.stringValue ?? "", reason: object["reason"]?.stringValue, path: path)
    }
}

/// Requests as files in `control/`, so that they work from any shell, reach the processor that
/// owns a running job whoever started it, and survive a processor restart:
///
/// - `control/cancel-ID-RANDOM.json`: cancel job ID (applied once, then removed);
/// - `control/hold-type-TYPE`: jobs of TYPE are not started while the file exists.
public enum ControlFiles {
    static let cancelPrefix = "cancel-"
    static let holdTypePrefix = "hold-type-"

    /// Writes a cancel request durably and returns its path.
    static func writeCancel(_ request: CancelRequest, layout: SpoolLayout) throws(SpoolError) -> String {
        // A child's id has a slash; the file name shows it as '+' (the request holds the id).
        let name = request.jobID.replacingOccurrences(of: "/", with: "+")
        let path = layout.controlDirectory + "/" + cancelPrefix + name + "-" + JobID.randomSuffix(8) + ".json"
        try publish(JSONWriter.write(request.jsonValue), to: path, layout: layout)
        return path
    }

    /// The cancel requests waiting in `control/`.
    static func cancelRequests(layout: SpoolLayout) -> [CancelRequest] {
        let entries = (try? FileSystem.listDirectory(layout.controlDirectory)) ?? []
        return entries.compactMap { entry in
            guard let name = entry.name, name.hasPrefix(cancelPrefix), name.hasSuffix(".json") else { return nil }
            let path = layout.controlDirectory + "/" + name
            guard let status = try? FileSystem.statusNotFollowing(path), status.kind == .regular,
                let bytes = try? FileSystem.readFile(path, limit: 64 * 1024),
                let value = try? JSONParser.parse(bytes), let request = CancelRequest(value, path: path)
            else {
                Diagnostics.warn("ignoring \(layout.relative(path)): not a valid cancel request")
                return nil
            }
            return request
        }
    }

    /// Types held with `spool hold --type`.
    public static func heldTypes(layout: SpoolLayout) -> Set<String> {
        let entries = (try? FileSystem.listDirectory(layout.controlDirectory)) ?? []
        return Set(
            entries.compactMap { entry in
                guard let name = entry.name, name.hasPrefix(holdTypePrefix) else { return nil }
                return String(name.dropFirst(holdTypePrefix.count))
            })
    }

    /// Holds or releases a type. The type must be a valid id-like name (it becomes a file name).
    public static func setTypeHeld(_ type: String, held: Bool, layout: SpoolLayout) throws(SpoolError) {
        guard JobID.isValid(type) else {
            throw .usage("type '\(type)' cannot be held by name: it must be letters, digits, '.', '_', '-'")
        }
        let path = layout.controlDirectory + "/" + holdTypePrefix + type
        if held {
            guard !FileSystem.exists(path) else { return }
            try publish(Array("held at \(Timestamp.now())\n".utf8), to: path, layout: layout)
        } else {
            do { try FileSystem.unlinkIfPresent(path) } catch { throw .system(error) }
        }
    }

    static func remove(_ request: CancelRequest) {
        if let path = request.path { try? FileSystem.unlinkIfPresent(path) }
    }

    private static func publish(_ bytes: [UInt8], to path: String, layout: SpoolLayout) throws(SpoolError) {
        let temporary = layout.temporaryPath("control")
        do throws(SystemError) {
            let fd = try FileSystem.createExclusive(temporary)
            defer { fd.close() }
            try fd.writeAll(bytes, path: temporary)
            try fd.sync(path: temporary)
            try FileSystem.renameNoReplace(temporary, to: path)
            try FileSystem.syncDirectory(layout.controlDirectory)
        } catch {
            try? FileSystem.unlinkIfPresent(temporary)
            throw .system(error)
        }
    }
}
