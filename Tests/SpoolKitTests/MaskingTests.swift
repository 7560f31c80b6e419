import SpoolJSON
import SpoolSystem
import Testing

@testable import SpoolKit

@Suite("Masking")
struct MaskingTests {
    static let policyText = """
        {"roles": {"analyst": {"email": "hash", "ssn": {"partial": 4}, "name": {"redact": "[hidden]"}, "notes": "drop"},
                   "admin": {}, "guest": {"id": "keep", "*": "drop"}},
         "owners": {"0": "admin", "4242": "analyst"}, "defaultRole": "guest", "hashKey": "0123456789abcdef-key"}
        """

    static func policy(_ text: String = policyText) throws -> MaskingPolicy {
        try MaskingPolicy(parsing: JSONParser.parse(Array(text.utf8)))
    }

    static let record = JSONObject([
        ("id", JSONValue(7)), ("name", .string("Ada Lovelace")), ("email", .string("ada@example.com")),
        ("ssn", .string("123-45-6789")), ("notes", .string("private")), ("city", .string("London")),
    ])

    @Test("each rule: keep, drop, redact with its text, partial keeps the last N, hash is keyed and stable")
    func rules() throws {
        let policy = try Self.policy()
        let analyst = policy.role(ofUser: 4242)
        #expect(analyst.name == "analyst")
        let shown = policy.masked(Self.record, for: analyst)
        #expect(shown.keys == ["id", "name", "email", "ssn", "city"])
        #expect(shown["name"] == .string("[hidden]"))
        #expect(shown["ssn"] == .string("***6789"))
        #expect(shown["id"] == JSONValue(7) && shown["city"] == .string("London"))
        let expectedHash = KeyedHash(key: Array("0123456789abcdef-key".utf8)).hex("ada@example.com", length: 16)
        #expect(shown["email"] == .string(expectedHash))
        #expect(MaskRule.partial(4).apply(to: "123", hasher: nil) == "***")
    }

    @Test("roles come from uids, then the default role; without a default, unmapped owners see nothing")
    func roleMapping() throws {
        let policy = try Self.policy()
        #expect(policy.role(ofUser: 0).name == "admin")
        #expect(policy.masked(Self.record, for: policy.role(ofUser: 0)) == Self.record)
        #expect(policy.role(ofUser: 31337).name == "guest")
        #expect(policy.masked(Self.record, for: policy.role(ofUser: 31337)).keys == ["id"])
        let strict = try Self.policy(#"{"roles": {"admin": {}}, "owners": {"0": "admin"}}"#)
        let nobody = strict.role(ofUser: 31337)
        #expect(nobody == RoleRules.denyAll)
        let hidden = strict.masked(Self.record, for: nobody)
        #expect(hidden.members.allSatisfy { $0.value == .string(MaskRule.defaultRedaction) })
    }

    @Test("payloads are masked for show and list; other record fields are left alone")
    func payloadMasking() throws {
        let policy = try Self.policy()
        let record = JobRecord(fields: JSONObject([("type", .string("report")), ("payload", .object(Self.record))]))
        let shown = policy.masked(record, for: policy.role(ofUser: 4242))
        #expect(shown.fields["type"] == .string("report"))
        #expect(shown.fields["payload"]?.objectValue?["notes"] == nil)
        #expect(shown.fields["payload"]?.objectValue?["ssn"] == .string("***6789"))
    }

    @Test("configuration mistakes are refused with the key named")
    func configurationErrors() {
        let cases = [
            (#"{"roles": {"a": {"x": "hash"}}}"#, "hashKey"),
            (#"{"roles": {}, "owners": {"0": "nobody"}}"#, "\"nobody\""),
            (#"{"roles": {"a": {"x": {"partial": -1}}}}"#, "masking.roles.a.x.partial"),
            (#"{"roles": {"a": {"x": "blur"}}}"#, "masking.roles.a.x"),
            (#"{"roleClaims": "ask"}"#, "roleClaims"),
            (#"{"hashKey": "short"}"#, "hashKey"),
            (#"{"colour": 1}"#, "masking.colour"),
        ]
        for (text, named) in cases {
            do {
                _ = try Self.policy(text)
                Issue.record("accepted \(text)")
            } catch {
                let message = (error as? SettingsError)?.message ?? "\(error)"
                #expect(message.contains(named), "\(message)")
            }
        }
    }
}
