import SpoolJSON
import SpoolSystem

/// The `report` settings of a handler type with `"builtin": "report"` in spool.json:
///
///     "daily-report": {
///       "builtin": "report",
///       "report": {
///         "dataDirectory": "data",
///         "chunkSize": 1000,
///         "format": "csv",
///         "fields": ["date", "region", {"name": "email", "as": "contact"}],
///         "sourceCommand": ["/usr/local/bin/export-sales", "--since", "yesterday"],
///         "sourceFormat": "ndjson"
///       }
///     }
public struct ReportSettings: Sendable, Equatable {
    /// One output field: the source field it comes from and its name in the report.
    public struct Field: Sendable, Equatable {
        public let source: String
        public let output: String
    }

    /// Where `payload.file` is looked up (relative to the spool unless absolute). Jobs can name
    /// files only beneath it.
    public var dataDirectory: String?
    /// A program and its arguments (never a shell line) whose standard output is the source,
    /// for jobs without `payload.file`.
    public var sourceCommand: [String]?
    /// The format of the source command's output.
    public var sourceFormat = RecordFormat.ndjson
    /// Records per chunk: the unit of output, progress and checkpoints.
    public var chunkSize = 1000
    /// The report's format (a job's `payload.format` may choose the other one).
    public var format = RecordFormat.csv
    /// The fields of the report in order, renamed where `as` says; nil: every field of each record.
    public var fields: [Field]?

    public init() {}

    init(parsing value: JSONValue, path: String) throws(SettingsError) {
        guard let object = value.objectValue else { throw SettingsError("\"\(path)\" must be an object") }
        for (key, setting) in object.members {
            let name = path + "." + key
            switch key {
            case "dataDirectory":
                guard let directory = setting.stringValue, !directory.isEmpty else {
                    throw SettingsError("\"\(name)\" must be a directory path")
                }
                dataDirectory = directory
            case "sourceCommand":
                guard let parts = setting.arrayValue, !parts.isEmpty,
                    case let strings = parts.compactMap(\.stringValue), strings.count == parts.count,
                    !strings[0].isEmpty
                else {
                    throw SettingsError("\"\(name)\" must be a non-empty array of strings (an argv, not a shell line)")
                }
                sourceCommand = strings
            case "sourceFormat": sourceFormat = try Self.format(setting, name)
            case "format": format = try Self.format(setting, name)
            case "chunkSize":
                guard let size = setting.intValue, (1...1_000_000).contains(size) else {
                    throw SettingsError("\"\(name)\" must be an integer from 1 to 1000000")
                }
                chunkSize = size
            case "fields":
                guard let entries = setting.arrayValue, !entries.isEmpty else {
                    throw SettingsError("\"\(name)\" must be a non-empty array of field names or {\"name\", \"as\"}")
                }
                var fields: [Field] = []
                for entry in entries {
                    if let field = entry.stringValue {
                        fields.append(Field(source: field, output: field))
                    } else if let pair = entry.objectValue, let field = pair["name"]?.stringValue,
                        Set(pair.keys).isSubset(of: ["name", "as"])
                    {
                        fields.append(Field(source: field, output: pair["as"]?.stringValue ?? field))
                    } else {
                        throw SettingsError("\"\(name)\" entries must be field names or {\"name\": F, \"as\": G}")
                    }
                }
                guard Set(fields.map(\.output)).count == fields.count else {
                    throw SettingsError("\"\(name)\" names an output field twice")
                }
                self.fields = fields
            default:
                throw SettingsError(
                    "unknown key \"\(name)\" (known: dataDirectory, sourceCommand, sourceFormat, chunkSize, format, "
                        + "fields)")
            }
        }
    }

    static func format(_ value: JSONValue, _ name: String) throws(SettingsError) -> RecordFormat {
        guard let word = value.stringValue, let format = RecordFormat(rawValue: word) else {
            throw SettingsError("\"\(name)\" must be \"csv\" or \"ndjson\"")
        }
        return format
    }
}
