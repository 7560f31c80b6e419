import SpoolJSON
import SpoolSystem

/// Turns source records into report lines: field selection and renaming, the role's masking,
/// then CSV or NDJSON. Masking rules name source fields (what the data is), before renaming.
struct ReportTransform {
    let format: RecordFormat
    let fields: [ReportSettings.Field]?
    let role: RoleRules
    let policy: MaskingPolicy?
    /// CSV: the columns, fixed by the settings or by the first record (then kept in the checkpoint).
    private(set) var columns: [String]?

    init(
        format: RecordFormat, fields: [ReportSettings.Field]?, role: RoleRules, policy: MaskingPolicy?,
        columns: [String]?
    ) {
        self.format = format
        self.fields = fields
        self.role = role
        self.policy = policy
        self.columns = columns
        if format == .csv, self.columns == nil, let fields {
            self.columns = fields.filter { role.rule(for: $0.source) != .drop }.map(\.output)
        }
    }

    /// The record as the report shows it: selected, renamed, masked (dropped fields left out).
    func shown(_ record: JSONObject) -> JSONObject {
        let mask = { (value: JSONValue, field: String) -> JSONValue? in
            guard let policy else { return value }
            return policy.masked(value, field: field, for: role)
        }
        var members: [(key: String, value: JSONValue)] = []
        if let fields {
            members.reserveCapacity(fields.count)
            for field in fields {
                guard let value = record[field.source], let shown = mask(value, field.source) else { continue }
                members.append((field.output, shown))
            }
        } else {
            members.reserveCapacity(record.members.count)
            for (key, value) in record.members {
                if let shown = mask(value, key) { members.append((key, shown)) }
            }
        }
        return JSONObject(members)
    }

    /// Appends one record's line to `output`. The first CSV record fixes the columns (when the
    /// settings do not) and brings the header line.
    mutating func append(_ record: JSONObject, to output: inout [UInt8]) {
        let shown = shown(record)
        switch format {
        case .ndjson:
            output += JSONWriter.write(.object(shown), pretty: false)
            output.append(0x0A)
        case .csv:
            let columns: [String]
            if let fixed = self.columns {
                columns = fixed
            } else {
                columns = shown.keys
                self.columns = columns
                output += Array(CSV.record(columns).utf8)
            }
            var values: [String] = []
            values.reserveCapacity(columns.count)
            var lookup: [String: JSONValue] = [:]
            for (key, value) in shown.members { lookup[key] = value }
            for column in columns { values.append(lookup[column].map(RoleRules.text(of:)) ?? "") }
            output += Array(CSV.record(values).utf8)
        }
    }

    /// The CSV header for settings that fix the columns, written before the first record.
    var fixedHeader: [UInt8]? {
        guard format == .csv, fields != nil, let columns else { return nil }
        return Array(CSV.record(columns).utf8)
    }
}
