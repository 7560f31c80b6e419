import SpoolJSON
import SpoolSystem

/// The masking rules of one role: a rule per field name, and one for every other field (`"*"`).
public struct RoleRules: Sendable, Equatable {
    public let name: String
    public let fields: [String: MaskRule]
    public let otherFields: MaskRule

    public init(name: String, fields: [String: MaskRule], otherFields: MaskRule = .keep) {
        self.name = name
        self.fields = fields
        self.otherFields = otherFields
    }

    /// The built-in default role: every field redacted, so an owner nobody mapped sees nothing.
    public static let denyAll = RoleRules(
        name: "deny-all", fields: [:], otherFields: .redact(MaskRule.defaultRedaction))

    /// Sees everything: what applies when spool.json has no `masking` section.
    public static let unmasked = RoleRules(name: "unmasked", fields: [:], otherFields: .keep)

    public func rule(for field: String) -> MaskRule { fields[field] ?? otherFields }

    /// Whether any field may come out changed: false lets callers skip the work.
    public var masksAnything: Bool { otherFields != .keep || fields.values.contains { $0 != .keep } }

    /// `{"FIELD": RULE, ..., "*": RULE}`.
    init(name: String, parsing value: JSONValue, path: String) throws(SettingsError) {
        guard let object = value.objectValue else {
            throw SettingsError("\"\(path)\" must be an object of field rules")
        }
        var fields: [String: MaskRule] = [:]
        var others = MaskRule.keep
        for (field, setting) in object.members {
            let rule = try MaskRule(parsing: setting, name: path + "." + field)
            if field == "*" { others = rule } else { fields[field] = rule }
        }
        self.init(name: name, fields: fields, otherFields: others)
    }

    /// The text form of a JSON value that masking works on: strings as they are, numbers as
    /// written, `true`/`false`, an empty string for null, and compact JSON for arrays and objects.
    static func text(of value: JSONValue) -> String {
        switch value {
        case .string(let text): return text
        case .number(let text): return text
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return ""
        case .array, .object: return JSONWriter.string(value)
        }
    }

    /// The value as this role may see it under `field`: unchanged, masked into a string, or nil (dropped).
    func masked(_ value: JSONValue, field: String, hasher: KeyedHash?) -> JSONValue? {
        let rule = rule(for: field)
        if rule == .keep { return value }
        return rule.apply(to: Self.text(of: value), hasher: hasher).map(JSONValue.string)
    }

    /// An object's members as this role may see them, in order (dropped members left out).
    func masked(_ object: JSONObject, hasher: KeyedHash?) -> JSONObject {
        guard masksAnything else { return object }
        var result: [(key: String, value: JSONValue)] = []
        for (key, value) in object.members {
            if let shown = masked(value, field: key, hasher: hasher) { result.append((key, shown)) }
        }
        return JSONObject(result)
    }
}
