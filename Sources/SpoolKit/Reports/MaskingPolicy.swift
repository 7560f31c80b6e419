import SpoolJSON
import SpoolSystem

/// The `masking` section of spool.json: roles and their field rules, and which job owners have
/// which role. A job's role comes from the uid owning its file (who dropped it), never from
/// anything written inside the JSON; a CLI command acts with the role of the user running it.
///
///     "masking": {
///       "roles": {
///         "analyst": {"email": "hash", "ssn": {"partial": 4}, "name": {"redact": "[hidden]"}, "notes": "drop"},
///         "auditor": {}
///       },
///       "owners": {"0": "auditor", "alice": "analyst"},
///       "defaultRole": "analyst",
///       "roleClaims": "downgrade",
///       "hashKey": "a long random string"
///     }
public struct MaskingPolicy: Sendable, Equatable {
    /// What happens to a job whose JSON claims a role its owner does not have.
    public enum ClaimPolicy: String, Sendable, Equatable {
        /// Run it with the owner's role, and say so in the log and the record.
        case downgrade
        /// Fail it at once (a permanent failure), with the reason.
        case refuse
    }

    public let roles: [String: RoleRules]
    /// Owners by uid (`"0"`) and by login name (`"alice"`).
    public let ownersByID: [UInt32: String]
    public let ownersByName: [String: String]
    /// The role of owners not listed; the built-in `deny-all` (every field redacted) unless set.
    public let defaultRole: RoleRules
    public let roleClaims: ClaimPolicy
    let hasher: KeyedHash?

    /// Parses the `masking` section.
    public init(parsing value: JSONValue) throws(SettingsError) {
        guard let object = value.objectValue else { throw SettingsError("\"masking\" must be an object") }
        var roles: [String: RoleRules] = [:]
        var ownersByID: [UInt32: String] = [:]
        var ownersByName: [String: String] = [:]
        var defaultName: String?
        var claims = ClaimPolicy.downgrade
        var hasher: KeyedHash?
        for (key, setting) in object.members {
            switch key {
            case "roles":
                guard let table = setting.objectValue else {
                    throw SettingsError("\"masking.roles\" must be an object")
                }
                for (name, rules) in table.members {
                    roles[name] = try RoleRules(name: name, parsing: rules, path: "masking.roles." + name)
                }
            case "owners":
                guard let table = setting.objectValue else {
                    throw SettingsError("\"masking.owners\" must map uids or user names to role names")
                }
                for (owner, role) in table.members {
                    guard let role = role.stringValue else {
                        throw SettingsError("\"masking.owners.\(owner)\" must be a role name")
                    }
                    if let uid = UInt32(owner) { ownersByID[uid] = role } else { ownersByName[owner] = role }
                }
            case "defaultRole":
                guard let name = setting.stringValue else {
                    throw SettingsError("\"masking.defaultRole\" must be a role name")
                }
                defaultName = name
            case "roleClaims":
                guard let word = setting.stringValue, let policy = ClaimPolicy(rawValue: word) else {
                    throw SettingsError("\"masking.roleClaims\" must be \"downgrade\" or \"refuse\"")
                }
                claims = policy
            case "hashKey":
                guard let key = setting.stringValue, key.utf8.count >= 16 else {
                    throw SettingsError("\"masking.hashKey\" must be a string of at least 16 bytes (keep it secret)")
                }
                hasher = KeyedHash(key: Array(key.utf8))
            default:
                throw SettingsError(
                    "unknown key \"masking.\(key)\" (known: roles, owners, defaultRole, roleClaims, hashKey)")
            }
        }
        for role in Set(ownersByID.values).union(ownersByName.values).union(defaultName.map { [$0] } ?? [])
        where roles[role] == nil && role != RoleRules.denyAll.name {
            throw SettingsError("masking names the role \"\(role)\", which \"masking.roles\" does not define")
        }
        if hasher == nil, let role = roles.values.first(where: { $0.usesHash }) {
            throw SettingsError("role \"\(role.name)\" has a \"hash\" rule but \"masking.hashKey\" is not set")
        }
        self.roles = roles
        self.ownersByID = ownersByID
        self.ownersByName = ownersByName
        self.defaultRole = defaultName.flatMap { roles[$0] } ?? RoleRules.denyAll
        self.roleClaims = claims
        self.hasher = hasher
    }

    /// The role of a uid: listed by uid, else by login name, else the default role.
    public func role(ofUser uid: UInt32) -> RoleRules {
        if let name = ownersByID[uid] ?? UserDatabase.name(ofUser: uid).flatMap({ ownersByName[$0] }) {
            return roles[name] ?? .denyAll
        }
        return defaultRole
    }

    /// A job record as a role may see it: its `payload` object masked field by field.
    public func masked(_ record: JobRecord, for role: RoleRules) -> JobRecord {
        guard role.masksAnything, let payload = record.fields["payload"] else { return record }
        var copy = record
        switch payload {
        case .object(let object): copy.set("payload", .object(role.masked(object, hasher: hasher)))
        case .array, .string, .number, .bool:
            copy.set("payload", role.masked(payload, field: "payload", hasher: hasher))
        case .null: break
        }
        return copy
    }

    /// A value under `field` as a role may see it; nil when dropped.
    public func masked(_ value: JSONValue, field: String, for role: RoleRules) -> JSONValue? {
        role.masked(value, field: field, hasher: hasher)
    }

    /// An object as a role may see it.
    public func masked(_ object: JSONObject, for role: RoleRules) -> JSONObject { role.masked(object, hasher: hasher) }

    /// A value's text as a role may see it under `field`; nil when dropped.
    public func maskedText(_ text: String, field: String, for role: RoleRules) -> String? {
        role.rule(for: field).apply(to: text, hasher: hasher)
    }
}

extension RoleRules {
    var usesHash: Bool { otherFields == .hash || fields.values.contains(.hash) }
}
