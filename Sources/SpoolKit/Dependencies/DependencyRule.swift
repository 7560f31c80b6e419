import SpoolJSON
import SpoolSystem

/// When a finished job counts for a dependency.
public enum DependencyCondition: String, Sendable, CaseIterable {
    /// Only when it ended in `done/`.
    case onSuccess
    /// When it ended in `done/` or `failed/` (a cancelled job does not count).
    case onCompletion
    /// Only when it ended in `failed/`.
    case onFailure

    func isMet(by state: JobState) -> Bool {
        switch self {
        case .onSuccess: return state == .done
        case .onCompletion: return state == .done || state == .failed
        case .onFailure: return state == .failed
        }
    }
}

/// A type-level rule from `spool.json`: when jobs of every type in `after` have finished (by
/// `condition`) for one correlation key, a job is made from `create`, once.
///
///     "rules": [
///       {"name": "daily-summary", "after": ["daily-report"], "condition": "onSuccess",
///        "create": {"type": "daily-summary", "payload": {"period": "daily"}}}
///     ]
public struct DependencyRule: Sendable, Equatable {
    /// Names the rule in dependent ids (`NAME@KEY`) and in `deps/NAME/`.
    public let name: String
    public let after: [String]
    public let condition: DependencyCondition
    /// When set, only jobs whose owner has this role (`masking.owners`) count.
    public let role: String?
    /// The dependent job's fields.
    public let template: JSONObject
    /// `"enabled": false` switches the rule off: finished jobs make no dependents through it.
    public let enabled: Bool

    public var createdType: String { template["type"]?.stringValue ?? "" }

    /// Reads the `rules` array and refuses cycles (a type whose rules lead back to it).
    static func parseRules(_ value: JSONValue, knownTypes: Set<String>, roles: Set<String>?) throws(DependencyRuleError)
        -> [DependencyRule]
    {
        guard let list = value.arrayValue else { throw DependencyRuleError("\"rules\" must be an array of rules") }
        var rules: [DependencyRule] = []
        for (index, entry) in list.enumerated() {
            let rule = try DependencyRule(index: index, parsing: entry, knownTypes: knownTypes, roles: roles)
            if rules.contains(where: { $0.name == rule.name }) {
                throw DependencyRuleError("\"rules[\(index)]\": another rule is named \"\(rule.name)\"")
            }
            rules.append(rule)
        }
        if let cycle = Self.cycle(in: rules) {
            throw DependencyRuleError("\"rules\" make a cycle: \(cycle.joined(separator: " → ")) (a chain must end)")
        }
        return rules
    }

    init(index: Int, parsing value: JSONValue, knownTypes: Set<String>, roles: Set<String>?) throws(DependencyRuleError)
    {
        let prefix = "rules[\(index)]"
        guard let object = value.objectValue else { throw DependencyRuleError("\"\(prefix)\" must be an object") }
        for key in object.keys where !["name", "after", "condition", "create", "role", "enabled"].contains(key) {
            throw DependencyRuleError(
                "unknown key \"\(prefix).\(key)\" (known: name, after, condition, create, role, enabled)")
        }
        guard let value = (object["enabled"] ?? .bool(true)).boolValue else {
            throw DependencyRuleError("\"\(prefix).enabled\" must be true or false")
        }
        enabled = value
        if let roleValue = object["role"] {
            guard let name = roleValue.stringValue, let roles, roles.contains(name) else {
                throw DependencyRuleError(
                    "\"\(prefix).role\" must name a role of the \"masking\" section"
                        + (roles.map { " (" + $0.sorted().joined(separator: ", ") + ")" } ?? ", which is missing"))
            }
            role = name
        } else {
            role = nil
        }
        guard let types = object["after"]?.arrayValue, !types.isEmpty,
            case let names = types.compactMap(\.stringValue), names.count == types.count
        else { throw DependencyRuleError("\"\(prefix).after\" must be a non-empty array of job types") }
        after = Array(Set(names)).sorted()
        if let text = object["condition"] {
            guard let name = text.stringValue, let parsed = DependencyCondition(rawValue: name) else {
                throw DependencyRuleError("\"\(prefix).condition\" must be onSuccess, onCompletion or onFailure")
            }
            condition = parsed
        } else {
            condition = .onSuccess
        }
        guard let create = object["create"]?.objectValue else {
            throw DependencyRuleError("\"\(prefix).create\" must be a job template, e.g. {\"type\": \"summary\"}")
        }
        let record = JobRecord(fields: create)
        if let problem = record.validationProblem() { throw DependencyRuleError("\"\(prefix).create\": \(problem)") }
        guard knownTypes.contains(record.handlerType) else {
            throw DependencyRuleError("\"\(prefix).create\": unknown type \"\(record.handlerType)\": no handler for it")
        }
        template = create
        let defaultName = record.type + "-after-" + after.joined(separator: "-")
        let chosen =
            object["name"]?.stringValue ?? String(defaultName.filter { $0.asciiValue.map(JobID.isAllowed) ?? false })
        guard JobID.isValid(chosen), !chosen.contains("@"), chosen.utf8.count <= 64 else {
            throw DependencyRuleError(
                "\"\(prefix).name\" must be 1 to 64 letters, digits, '.', '_', '-' (it names the dependents' ids)")
        }
        name = chosen
    }

    /// A cycle of types (`a → b → a`), if the rules have one.
    static func cycle(in rules: [DependencyRule]) -> [String]? {
        var edges: [String: Set<String>] = [:]
        for rule in rules { for type in rule.after { edges[type, default: []].insert(rule.createdType) } }
        var state: [String: Int] = [:]  // 1: on the current path, 2: done
        var path: [String] = []
        func visit(_ type: String) -> [String]? {
            if state[type] == 2 { return nil }
            if state[type] == 1 {
                let start = path.firstIndex(of: type)!
                return Array(path[start...]) + [type]
            }
            state[type] = 1
            path.append(type)
            for next in (edges[type] ?? []).sorted() {
                if let found = visit(next) { return found }
            }
            path.removeLast()
            state[type] = 2
            return nil
        }
        for type in edges.keys.sorted() {
            if let found = visit(type) { return found }
        }
        return nil
    }
}

/// A rule that cannot be used, with a message naming the key.
public struct DependencyRuleError: Error, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
}
