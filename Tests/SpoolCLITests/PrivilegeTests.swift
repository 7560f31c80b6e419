import Foundation
import Glibc
import SpoolSystem
import Testing

/// Handlers never run as root unless configured (issue 8): a `user` per handler type (or for the
/// whole spool), switched to in the child before exec. Most of it needs root; those parts skip
/// with a message otherwise.
@Suite("Handler users and dropped privileges")
struct PrivilegeTests {
    static var isRoot: Bool { geteuid() == 0 }
    static let hasSetpriv = FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")

    /// A spool whose directories the `nobody` account can reach (the scratch directory from
    /// mkdtemp is 0700), with a root-only directory (0700, holding `file`) beside it;
    /// `configuration` gets that directory's path.
    static func reachableSpool(_ configuration: (String) throws -> String) throws -> (TestSpool, secret: String) {
        let spool = try TestSpool(configuration: "{}")
        #expect(chmod(spool.scratch, 0o755) == 0)
        let secret = spool.scratch + "/root-only"
        try FileManager.default.createDirectory(atPath: secret, withIntermediateDirectories: false)
        #expect(chmod(secret, 0o700) == 0)
        try "secret\n".write(toFile: secret + "/file", atomically: false, encoding: .utf8)
        try configuration(secret).write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        return (spool, secret)
    }

    /// Runs a program to completion; (status, stdout, stderr).
    static func execute(_ program: String, _ arguments: [String]) throws -> (Int32, String, String) {
        try TestSpool.execute(program, arguments)
    }

    @Test(
        "a handler with \"user\": \"nobody\" runs as nobody, with nobody's groups and environment only",
        .enabled(if: isRoot, "switching users needs root"))
    func dropsToNobody() throws {
        // SPOOL_JOB_FILE may still be the job as dropped for the first moment (durable mode:
        // the start record lands after its commit), so the type is read from either form.
        let script = """
            id -u; id -g; id -G
            echo "HOME=$HOME USER=$USER LOGNAME=$LOGNAME"
            sed -n 's/.*"type": *"\\([^"]*\\)".*/job file: \\1/p' "$SPOOL_JOB_FILE"
            echo "progress 40" > /proc/self/fd/3
            echo "reopened stderr" > /dev/stderr
            if touch "$SECRET/x" 2>/dev/null; then echo "wrote the root-only directory"; else echo "write refused"; fi
            if cat "$SECRET/file" 2>/dev/null; then :; else echo "read refused"; fi
            """
        let (spool, secret) = try Self.reachableSpool { secret in
            let options = #""user": "nobody", "maxAttempts": 1, "env": {"SECRET": "\#(secret)"}"#
            return """
                {"handlers": {
                  "dropped": \(TestSpool.shellHandler(script, extra: options)),
                  "asroot": {"command": ["/usr/bin/id", "-u"], "user": "root", "maxAttempts": 1}}}
                """
        }
        try spool.drop("n.json", #"{"type": "dropped"}"#)
        try spool.drop("r.json", #"{"type": "asroot"}"#)
        // No --allow-root-handlers: every handler has a user. The processor gets supplementary
        // groups (root, adm) that the handler must not keep, where setpriv can give them.
        let command = [TestSpool.binary, "run", "--spool", spool.root, "--drain"]
        let hasSetpriv = FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
        if !hasSetpriv { print("PrivilegeTests: no /usr/bin/setpriv: the processor runs with the tests' groups") }
        let (status, _, errors) =
            hasSetpriv
            ? try Self.execute("/usr/bin/setpriv", ["--groups=0,4"] + command)
            : try Self.execute(command[0], Array(command.dropFirst()))
        #expect(status == 0, "\(errors)")
        #expect(spool.jobIDs(in: "done") == ["n", "r"], "\(spool.contents("logs/n.log") ?? "")")

        let nobody = try #require(getpwnam("nobody")?.pointee)
        let lines = (spool.contents("results/n.out") ?? "").split(separator: "\n").map(String.init)
        #expect(lines.count == 7, "\(lines)")
        guard lines.count == 7 else { return }
        #expect(lines[0] == String(nobody.pw_uid))
        #expect(lines[1] == String(nobody.pw_gid))
        // Exactly nobody's groups (as id(1) lists them), none of the processor's.
        let (_, expected, _) = try Self.execute("/usr/bin/id", ["-G", "nobody"])
        #expect(Set(lines[2].split(separator: " ")) == Set(expected.split(whereSeparator: \.isWhitespace)))
        #expect(!lines[2].split(separator: " ").contains("0"), "root's group leaked: \(lines[2])")
        #expect(lines[3] == "HOME=\(String(cString: nobody.pw_dir)) USER=nobody LOGNAME=nobody")
        #expect(lines[4] == "job file: dropped")
        #expect(lines[5] == "write refused")
        #expect(lines[6] == "read refused")
        #expect(!FileManager.default.fileExists(atPath: secret + "/x"))
        let log = spool.contents("logs/n.log") ?? ""
        #expect(log.contains("progress 40%"), "\(log)")
        #expect(log.contains("stderr: reopened stderr"), "\(log)")
        #expect(spool.contents("results/r.out") == "0\n")
        // The job file stays the processor's; the submitter is still the file's owner.
        #expect(try spool.record("n", in: "done")["ownerUID"] as? Int == 0)
    }

    @Test(
        "as root, a handler without a user is refused (78, naming it) unless --allow-root-handlers is given",
        .enabled(if: isRoot, "switching users needs root"))
    func rootRule() throws {
        let spool = try TestSpool(
            configuration: #"{"handlers": {"greet": {"command": ["/usr/bin/id", "-u"]}, "n": {"builtin": "noop"}}}"#)
        try spool.drop("g.json", #"{"type": "greet"}"#)
        let refused = try spool.spool(["run", "--drain"], allowRootHandlers: false)
        #expect(refused.status == 78)
        #expect(refused.standardError.contains(#"handler "greet" would run as root"#), "\(refused.standardError)")
        #expect(refused.standardError.contains("--allow-root-handlers"))
        #expect(!refused.standardError.contains("processing"), "announced a start it refused")
        #expect(spool.jobIDs(in: "queued") == ["g"])
        #expect(spool.names(in: "processors").filter { $0.hasSuffix(".lock") }.isEmpty)

        let allowed = try spool.spool(["run", "--drain", "--allow-root-handlers"], allowRootHandlers: false)
        #expect(allowed.status == 0, "\(allowed.standardError)")
        #expect(spool.contents("results/g.out") == "0\n")
    }

    @Test("an unknown user is a configuration error (78) naming the handler and the user")
    func unknownUser() throws {
        let spool = try TestSpool(
            configuration: #"{"handlers": {"greet": {"command": ["/bin/true"], "user": "no-such-user-spool"}}}"#)
        for arguments in [["run", "--drain"], ["list"]] {
            let result = try spool.spool(arguments)
            #expect(result.status == 78)
            #expect(result.standardError.contains(#"handler "greet""#), "\(result.standardError)")
            #expect(result.standardError.contains(#"user "no-such-user-spool""#), "\(result.standardError)")
        }
        try #"{"user": "no-such-user-spool", "handlers": {"greet": {"command": ["/bin/true"]}}}"#
            .write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        let spoolLevel = try spool.spool(["run", "--drain"])
        #expect(spoolLevel.status == 78)
        #expect(spoolLevel.standardError.contains(#"user "no-such-user-spool""#), "\(spoolLevel.standardError)")
    }

    @Test(
        "a type's notifiers run as its user: start, progress and done as nobody, with nobody's HOME",
        .enabled(if: isRoot, "switching users needs root"))
    func notifiersAsUser() throws {
        let (spool, _) = try Self.reachableSpool { _ in
            let notifier = #"["/bin/sh", "-c", "echo \"notifier $SPOOL_EVENT uid=$(id -u) HOME=$HOME\""]"#
            return """
                {"handlers": {"work": {"command": ["/bin/sh", "-c", "echo progress 50 >&3; sleep 0.3"],
                  "user": "nobody", "maxAttempts": 1,
                  "notify": {"start": \(notifier), "progress": \(notifier), "done": \(notifier), "progressEvery": 50}}}}
                """
        }
        try spool.drop("n.json", #"{"type": "work"}"#)
        let run = try spool.spool(["run", "--drain"], allowRootHandlers: false)
        #expect(run.status == 0, "\(run.standardError)")
        #expect(spool.jobIDs(in: "done") == ["n"])
        let nobody = try #require(getpwnam("nobody")?.pointee)
        let home = String(cString: nobody.pw_dir)
        // Notifiers run beside the job and may end after the processor: wait for their lines.
        for event in ["start", "progress", "done"] {
            let line = "notifier \(event) uid=\(nobody.pw_uid) HOME=\(home)"
            #expect(
                spool.waitUntil(timeout: 30) { spool.contents("logs/n.log")?.contains(line) == true },
                "\(line) not in \(spool.contents("logs/n.log") ?? "")")
        }
        #expect(spool.contents("logs/n.log")?.contains("uid=0 ") != true)
    }

    @Test(
        "a report's source command runs as the type's user: its uid, and what it cannot read",
        .enabled(if: isRoot, "switching users needs root"))
    func reportSourceCommand() throws {
        let (spool, _) = try Self.reachableSpool { secret in
            // One record: the command's uid, and the root-only file's text or "denied".
            let source =
                #"printf '{"uid": "%s", "secret": "%s"}\n' "$(id -u)" "$(cat \#(secret)/file 2>/dev/null || echo denied)""#
            let argv = String(
                decoding: try JSONSerialization.data(withJSONObject: ["/bin/sh", "-c", source]), as: UTF8.self)
            return """
                {"user": "nobody", "handlers": {"sales": {"builtin": "report", "maxAttempts": 1,
                  "report": {"sourceCommand": \(argv), "format": "ndjson"}}}}
                """
        }
        try spool.drop("r.json", #"{"type": "sales"}"#)
        let run = try spool.spool(["run", "--drain"], allowRootHandlers: false)
        #expect(run.status == 0, "\(run.standardError)")
        #expect(spool.jobIDs(in: "done") == ["r"], "\(spool.contents("logs/r.log") ?? "")")
        let result = spool.contents("results/r.out") ?? ""
        #expect(result.contains(#""uid":"65534""#) && result.contains(#""secret":"denied""#), "\(result)")
    }

    @Test(
        "not root: a handler configured for another user is a configuration error; its own user runs",
        .enabled(if: isRoot && hasSetpriv, "switching users needs root and setpriv (util-linux)"))
    func nonRootProcessor() throws {
        let asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups", TestSpool.binary]
        let spool = try TestSpool(
            configuration: #"{"handlers": {"greet": {"command": ["/usr/bin/id", "-u"], "user": "root"}}}"#)
        #expect(chmod(spool.scratch, 0o755) == 0)
        try spool.drop("g.json", #"{"type": "greet"}"#)
        // The spool stays root's and read-only to nobody: the check comes before any change.
        let (status, _, errors) = try Self.execute(
            "/usr/bin/setpriv", asNobody + ["run", "--spool", spool.root, "--drain"])
        #expect(status == 78, "\(errors)")
        #expect(
            errors.contains(#"handler "greet" is configured to run as user root (uid 0) but spool run is not root"#),
            "\(errors)")
        #expect(spool.jobIDs(in: "queued") == ["g"])

        // The processor's own uid: nothing to switch, it runs.
        try #"{"handlers": {"greet": {"command": ["/usr/bin/id", "-u"], "user": "nobody"}}}"#
            .write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        let (chowned, _, chownErrors) = try Self.execute("/bin/chown", ["-R", "65534:65534", spool.root])
        #expect(chowned == 0, "\(chownErrors)")
        let (ran, _, runErrors) = try Self.execute(
            "/usr/bin/setpriv", asNobody + ["run", "--spool", spool.root, "--drain"])
        #expect(ran == 0, "\(runErrors)")
        #expect(spool.contents("results/g.out") == "65534\n", "\(spool.contents("logs/g.log") ?? "")")
    }
}
