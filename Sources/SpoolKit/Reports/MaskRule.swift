import SpoolJSON
import SpoolSystem

/// What a role may see of one field.
public enum MaskRule: Sendable, Equatable {
    /// The value as it is.
    case keep
    /// The field is left out altogether (a CSV column disappears).
    case drop
    /// The value is replaced by fixed text.
    case redact(String)
    /// Only the last N characters stay, after `***` (`***1234`); a value of N characters or fewer becomes `***`.
    case partial(Int)
    /// A stable keyed hash (HMAC-SHA256 with `masking.hashKey`, first 16 hex digits): equal
    /// values give equal hashes, so joins still work, without revealing the value.
    case hash

    /// The text `redact` uses when the rule gives none.
    public static let defaultRedaction = "***"

    /// Parses `"keep"`, `"drop"`, `"redact"`, `"hash"`, `{"redact": "TEXT"}` or `{"partial": N}`.
    init(parsing value: JSONValue, name: String) throws(SettingsError) {
        let expected =
            "\"\(name)\" must be \"keep\", \"drop\", \"redact\", \"hash\", {\"redact\": \"TEXT\"} or {\"partial\": N}"
        if let word = value.stringValue {
            switch word {
            case "keep": self = .keep
            case "drop": self = .drop
            case "redact": self = .redact(Self.defaultRedaction)
            case "hash": self = .hash
            default: throw SettingsError(expected)
            }
            return
        }
        guard let object = value.objectValue, object.members.count == 1, let (key, setting) = object.members.first
        else { throw SettingsError(expected) }
        switch key {
        case "redact":
            guard let text = setting.stringValue else { throw SettingsError(expected) }
            self = .redact(text)
        case "partial":
            guard let count = setting.intValue, count >= 0 else {
                throw SettingsError("\"\(name).partial\" must be a number of characters (0 or more)")
            }
            self = .partial(count)
        default: throw SettingsError(expected)
        }
    }

    /// The masked text of a value's text; nil for `drop`.
    func apply(to text: String, hasher: KeyedHash?) -> String? {
        switch self {
        case .keep: return text
        case .drop: return nil
        case .redact(let replacement): return replacement
        case .partial(let count):
            guard text.count > count else { return Self.defaultRedaction }
            return Self.defaultRedaction + String(text.suffix(count))
        case .hash:
            // Configuration refuses a hash rule without a key; a missing hasher hides everything.
            return hasher?.hex(text, length: 16) ?? Self.defaultRedaction
        }
    }
}

/// A problem in a report or masking setting of spool.json, as a sentence naming the key.
public struct SettingsError: Error, Sendable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
