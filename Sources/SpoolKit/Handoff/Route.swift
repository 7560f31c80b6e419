import SpoolJSON
import SpoolSystem

/// A route from `spool.json`: jobs that are sent to another spool instead of running here, or,
/// on the receiving side, the way finished jobs go back to the spool they came from.
///
///     "routes": {
///       "to-b":      {"types": ["render"], "destination": "hostb:/srv/spool", "returnVia": "back-to-a"},
///       "back-to-a": {"destination": "hosta:/srv/spool", "returns": true}
///     }
public struct Route: Sendable, Equatable {
    public let name: String
    /// Job types forwarded by this route (none for a return route).
    public let types: Set<String>
    /// Whether a job may choose this route with its `"route"` field.
    public let jobsMayChoose: Bool
    /// Where the transport sends: its `{destination}` (a path, or `host:path` for rsync over ssh).
    public let destination: String
    /// The transport's argv: `{outbox}` is a directory of files to deliver, `{destination}` the
    /// route's destination. Run without a shell; exit 0 means everything was delivered.
    public let transport: [String]
    /// A return route carries finished jobs back to their origin (into its `returns/`).
    public let returns: Bool
    /// The name of the route the destination uses to send finished jobs back, if any.
    public let returnVia: String?
    public let backoff: Backoff

    /// rsync into the destination's `queued/` (or `returns/`): each file under a temporary dot
    /// name, renamed when complete; never replacing a file that is there.
    static func defaultTransport(returns: Bool) -> [String] {
        ["rsync", "-a", "--ignore-existing", "{outbox}/", "{destination}/" + (returns ? "returns/" : "queued/")]
    }

    init(name: String, parsing value: JSONValue) throws(RouteError) {
        let prefix = "routes.\(name)"
        guard JobID.isValid(name), !name.contains("@") else {
            throw RouteError("\"\(prefix)\": a route's name must be letters, digits, '.', '_', '-'")
        }
        guard let object = value.objectValue else { throw RouteError("\"\(prefix)\" must be an object") }
        let known = ["types", "jobsMayChoose", "destination", "transport", "returns", "returnVia", "backoff"]
        for key in object.keys where !known.contains(key) {
            throw RouteError("unknown key \"\(prefix).\(key)\" (known: \(known.joined(separator: ", ")))")
        }
        guard let destination = object["destination"]?.stringValue, !destination.isEmpty else {
            throw RouteError("\"\(prefix).destination\" must name the other spool, e.g. \"hostb:/srv/spool\"")
        }
        returns = object["returns"]?.boolValue ?? false
        if let list = object["types"] {
            guard let types = list.arrayValue?.compactMap(\.stringValue), types.count == list.arrayValue?.count else {
                throw RouteError("\"\(prefix).types\" must be an array of job types")
            }
            self.types = Set(types)
        } else {
            types = []
        }
        jobsMayChoose = object["jobsMayChoose"]?.boolValue ?? false
        if let argv = object["transport"] {
            guard let parts = argv.arrayValue?.compactMap(\.stringValue), parts.count == argv.arrayValue?.count,
                !parts.isEmpty, !parts[0].isEmpty
            else { throw RouteError("\"\(prefix).transport\" must be a non-empty argv (an array of strings)") }
            transport = parts
        } else {
            transport = Self.defaultTransport(returns: returns)
        }
        if let via = object["returnVia"] {
            guard let name = via.stringValue, JobID.isValid(name) else {
                throw RouteError("\"\(prefix).returnVia\" must name the destination's return route")
            }
            returnVia = name
        } else {
            returnVia = nil
        }
        var backoff = Backoff(base: 1, maximum: 300)
        if let setting = object["backoff"]?.objectValue {
            if let base = setting["base"]?.doubleValue, base >= 0 { backoff.base = base }
            if let maximum = setting["max"]?.doubleValue, maximum >= 0 { backoff.maximum = maximum }
        }
        self.backoff = backoff
        self.destination = destination
        self.name = name
    }

    /// The argv for one delivery of `outbox`.
    func command(outbox: String) -> [String] {
        transport.map {
            $0.replacingOccurrences(of: "{outbox}", with: outbox).replacingOccurrences(
                of: "{destination}", with: destination)
        }
    }
}

/// A route that cannot be used, with a message naming the key.
public struct RouteError: Error, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
}

extension SpoolConfiguration {
    /// The route that forwards a job, if one does: the job's own `"route"` when that route
    /// allows it, else the route listing its type.
    public func route(for record: JobRecord) -> Route? {
        if let chosen = record.fields["route"]?.stringValue, let route = routes.first(where: { $0.name == chosen }),
            route.jobsMayChoose, !route.returns
        {
            return route
        }
        return routes.first { !$0.returns && $0.types.contains(record.type) }
    }
}
