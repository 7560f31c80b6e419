import Glibc
import SpoolKit
import SpoolSystem
import Testing

/// The `user` keys of spool.json and the rule `spool run` applies at start (issue 8), checked
/// without running anything: as if the processor were root, or another uid.
@Suite("Handler users")
struct HandlerUserTests {
    static func parse(_ text: String) throws(SpoolError) -> SpoolConfiguration {
        try SpoolConfiguration(parsing: Array(text.utf8), path: "/s/spool.json")
    }

    /// The configuration error `body` throws, or nil.
    static func refusal(_ body: () throws(SpoolError) -> Void) -> SpoolError? {
        do { try body() } catch { return error }
        return nil
    }

    @Test("user names and numeric uids resolve through the password database, with groups and home")
    func resolution() throws {
        let root = try #require(UserDatabase.account("root"))
        #expect(root.uid == 0 && root.gid == 0 && root.name == "root" && root.groups.contains(0))
        #expect(UserDatabase.account("0") == root)
        let nobody = try #require(UserDatabase.account("nobody"))
        #expect(nobody.uid == 65534 && nobody.groups.contains(nobody.gid) && !nobody.groups.contains(0))
        #expect(UserDatabase.account(String(nobody.uid)) == nobody)
        #expect(UserDatabase.account("no-such-user-spool") == nil)
        #expect(UserDatabase.account("4000000000") == nil)
        #expect(UserDatabase.account("") == nil)
    }

    @Test("a handler's user overrides the spool's; unknown users are errors naming the handler and the user")
    func configuration() throws {
        let parsed = try Self.parse(
            #"""
            {"user": "nobody", "handlers": {"a": {"command": ["x"]}, "b": {"command": ["x"], "user": "0"},
                                            "n": {"builtin": "noop"}}}
            """#)
        #expect(parsed.user(ofHandler: "a")?.name == "nobody")
        #expect(parsed.user(ofHandler: "b")?.name == "root")
        #expect(parsed.handlers["a"]?.user == nil && parsed.handlers["b"]?.user?.uid == 0)
        #expect(try Self.parse(#"{"handlers": {"a": {"command": ["x"]}}}"#).user(ofHandler: "a") == nil)

        let cases: [(String, [String])] = [
            (
                #"{"handlers": {"greet": {"command": ["x"], "user": "no-such-user-spool"}}}"#,
                ["handler \"greet\"", "user \"no-such-user-spool\"", "not in the password database"]
            ),
            (#"{"user": "no-such-user-spool"}"#, ["\"user\"", "user \"no-such-user-spool\""]),
            (
                #"{"handlers": {"greet": {"command": ["x"], "user": 0}}}"#,
                ["\"handlers.greet.user\" must be a user name"]
            ),
            (#"{"user": ""}"#, ["\"user\" must be a user name or a numeric uid"]),
        ]
        for (text, expected) in cases {
            let error = Self.refusal { () throws(SpoolError) in _ = try Self.parse(text) }
            #expect(error?.exitCode == ExitCode.configuration, "\(text)")
            for part in expected {
                #expect(error?.description.contains(part) == true, "\(error.map { "\($0)" } ?? "accepted"): \(part)")
            }
        }
    }

    @Test("as root: a program without a user is refused unless allowed; noop and data-file reports need none")
    func rootRule() throws {
        let configuration = try Self.parse(
            #"""
            {"handlers": {"greet": {"command": ["x"]}, "asroot": {"command": ["x"], "user": "root"},
                          "drop": {"command": ["x"], "user": "nobody"}, "n": {"builtin": "noop"},
                          "files": {"builtin": "report", "report": {"dataDirectory": "d"}},
                          "made": {"builtin": "report", "report": {"sourceCommand": ["gen"]}}}}
            """#)
        let error = Self.refusal { () throws(SpoolError) in
            _ = try HandlerUsers(
                configuration: configuration, path: "/s/spool.json", processorUID: 0, allowRootHandlers: false)
        }
        #expect(error?.exitCode == ExitCode.configuration)
        let message = error?.description ?? ""
        #expect(message.contains(#"handlers "greet", "made" would run as root"#), "\(message)")
        #expect(message.contains("--allow-root-handlers") && message.contains(#""user": "root""#))
        #expect(!message.contains(#""n""#) && !message.contains(#""files""#) && !message.contains(#""asroot""#))

        let allowed = try HandlerUsers(
            configuration: configuration, path: "/s/spool.json", processorUID: 0, allowRootHandlers: true)
        #expect(allowed.switching.keys.sorted() == ["asroot", "drop"])
        #expect(allowed.switching["drop"]?.uid == 65534 && allowed.switching["asroot"]?.uid == 0)

        // In-process handlers replace those types: nothing of theirs is spawned.
        let embedded = try HandlerUsers(
            configuration: configuration, path: "/s/spool.json", processorUID: 0, allowRootHandlers: false,
            inProcessTypes: ["greet", "made"])
        #expect(embedded.switching.keys.sorted() == ["asroot", "drop"])

        // The spool-level user covers every handler without its own.
        let covered = try Self.parse(#"{"user": "nobody", "handlers": {"greet": {"command": ["x"]}}}"#)
        let users = try HandlerUsers(
            configuration: covered, path: "/s/spool.json", processorUID: 0, allowRootHandlers: false)
        #expect(users.switching["greet"]?.name == "nobody")
    }

    @Test("not root: another uid is a configuration error; the processor's own uid or no user is fine")
    func nonRootRule() throws {
        let configuration = try Self.parse(
            #"{"handlers": {"greet": {"command": ["x"], "user": "root"}, "plain": {"command": ["x"]}}}"#)
        let error = Self.refusal { () throws(SpoolError) in
            _ = try HandlerUsers(
                configuration: configuration, path: "/s/spool.json", processorUID: 65534, allowRootHandlers: true)
        }
        #expect(error?.exitCode == ExitCode.configuration)
        let message = error?.description ?? ""
        #expect(
            message.contains(#"handler "greet" is configured to run as user root (uid 0) but spool run is not root"#),
            "\(message)")
        #expect(message.contains("nobody (uid 65534)"))

        let same = try Self.parse(
            #"{"handlers": {"greet": {"command": ["x"], "user": "nobody"}, "plain": {"command": ["x"]}}}"#)
        let users = try HandlerUsers(
            configuration: same, path: "/s/spool.json", processorUID: 65534, allowRootHandlers: false)
        #expect(users.switching.isEmpty)
    }
}
