import Foundation
import Glibc
import SpoolSystem
import Testing

/// The commands a person types, their output and their exit codes.
@Suite("Command line")
struct CommandLineTests {
    @Test("every command refuses a directory that is not a spool, naming what is missing")
    func refusesNonSpool() throws {
        let spool = try TestSpool(configuration: "{}")
        let notSpool = spool.scratch + "/plain"
        try FileManager.default.createDirectory(atPath: notSpool, withIntermediateDirectories: true)
        for command in [["list"], ["stats"], ["run", "--drain"], ["submit", "--type", "x"], ["show", "a"]] {
            let result = try TestSpool.run(command + ["--spool", notSpool])
            #expect(result.status == 66, "\(command)")
            #expect(result.standardError.contains("is not a spool: it has no spool.json"))
            #expect(result.standardError.contains("spool init"))
        }
        let missing = try TestSpool.run(["list", "--spool", spool.scratch + "/nowhere"])
        #expect(missing.status == 66)
        #expect(missing.standardError.contains("it does not exist"))
        try FileManager.default.removeItem(atPath: spool.root + "/done")
        let broken = try spool.spool(["list"])
        #expect(broken.status == 66)
        #expect(broken.standardError.contains("'done/' is missing"))
    }

    @Test("a bad spool.json is refused with the key and exit code 78")
    func badConfiguration() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"x": {"command": "rm -rf /"}}}"#)
        let result = try spool.spool(["run", "--drain"])
        #expect(result.status == 78)
        #expect(result.standardError.contains("handlers.x.command"))
    }

    @Test("submit prints fresh unique ids; the jobs are in queued/ with their fields")
    func submit() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"echo": {"command": ["cat"]}}}"#)
        let first = try spool.spool(
            ["submit", "--type", "echo", "--payload", #"{"n": 1}"#, "--priority", "high", "--timeout", "5"])
        #expect(first.status == 0)
        let id = first.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        let record = try spool.record(id, in: "queued")
        #expect(record["type"] as? String == "echo")
        #expect(record["priority"] as? String == "high")
        #expect((record["payload"] as? [String: Any])?["n"] as? Int == 1)
        #expect(record["createdAt"] is String)

        let jobFile = spool.scratch + "/job.json"
        try #"{"type": "echo", "custom": {"keep": true}}"#.write(toFile: jobFile, atomically: true, encoding: .utf8)
        let two = try spool.spool(["submit", jobFile, jobFile])
        let ids = two.standardOutput.split(separator: "\n").map(String.init)
        #expect(ids.count == 2 && Set(ids).count == 2 && !ids.contains(id))
        #expect((try spool.record(ids[0], in: "queued")["custom"] as? [String: Any])?["keep"] as? Bool == true)

        let fromInput = try spool.spool(["submit", "-", "--id", "mine"], input: #"{"type": "echo"}"#)
        #expect(fromInput.status == 0 && fromInput.standardOutput == "mine\n")
        let again = try spool.spool(["submit", "--type", "echo", "--id", "mine"])
        #expect(again.status == 73)
        #expect(again.standardError.contains("A job 'mine' already exists in queued/"))
        #expect(spool.names(in: "tmp").isEmpty)

        let run = try spool.spool(["run", "--drain"])
        #expect(run.status == 0)
        #expect(spool.jobIDs(in: "done").count == 4)
    }

    @Test("submit rejects bad jobs and bad options with usage or data errors")
    func submitErrors() throws {
        let spool = try TestSpool(configuration: "{}")
        let noType = try spool.spool(["submit", "-"], input: #"{"payload": 1}"#)
        #expect(noType.status == 65)
        #expect(noType.standardError.contains("the required field \"type\" is missing"))
        let badPayload = try spool.spool(["submit", "--type", "x", "--payload", "{oops"])
        #expect(badPayload.status == 64)
        let badID = try spool.spool(["submit", "--type", "x", "--id", "../etc"])
        #expect(badID.status == 65)
        #expect(badID.standardError.contains("not a valid job id"))
        let unknownOption = try spool.spool(["submit", "--colour", "red"])
        #expect(unknownOption.status == 64)
        #expect(unknownOption.standardError.contains("unknown option --colour"))
        let badPriority = try spool.spool(["submit", "--type", "x", "--priority", "urgent"])
        #expect(badPriority.status == 65)
        #expect(spool.names(in: "queued").isEmpty)
    }

    @Test("list, show and stats, in text and JSON")
    func listShowStats() throws {
        let spool = try TestSpool(
            configuration: """
                {"handlers": {"ok": {"builtin": "noop"}, "bad": \(TestSpool.shellHandler("exit 3", extra: "\"maxAttempts\": 1"))}}
                """)
        try spool.drop("one.json", #"{"type": "ok"}"#)
        try spool.drop("two.json", #"{"type": "bad"}"#)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        try spool.drop("three.json", #"{"type": "ok", "priority": "low"}"#)

        let list = try spool.spool(["list"])
        #expect(list.status == 0)
        let lines = list.standardOutput.split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines.contains { $0.hasPrefix("three") && $0.contains("queued") })
        #expect(lines.contains { $0.hasPrefix("two") && $0.contains("failed") && $0.contains("exit 3") })
        #expect(lines.allSatisfy { $0.count <= 100 })

        let failedOnly = try spool.spool(["list", "--state", "failed", "--json"])
        let array = try #require(
            try JSONSerialization.jsonObject(with: Data(failedOnly.standardOutput.utf8)) as? [[String: Any]])
        #expect(array.count == 1)
        #expect(array.first?["id"] as? String == "two")
        #expect(array.first?["exitCode"] as? Int == 3)
        #expect(try spool.spool(["list", "--state", "sideways"]).status == 64)
        let byType = try spool.spool(["list", "--type", "ok", "--json"])
        #expect((try JSONSerialization.jsonObject(with: Data(byType.standardOutput.utf8)) as? [Any])?.count == 2)

        let show = try spool.spool(["show", "one"])
        #expect(show.standardOutput.contains("state:      done"))
        #expect(show.standardOutput.contains("result:     results/one.out"))
        #expect(show.standardOutput.contains("; attempt 1 started (type ok)"))
        let showJSON = try spool.spool(["show", "two", "--json"])
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(showJSON.standardOutput.utf8)) as? [String: Any])
        #expect(object["state"] as? String == "failed")
        #expect(object["error"] as? String == "exit 3")
        let missing = try spool.spool(["show", "nope"])
        #expect(missing.status == 66)
        #expect(missing.standardError.contains("No job 'nope'"))

        let stats = try spool.spool(["stats", "--json"])
        let counts = try #require(
            try JSONSerialization.jsonObject(with: Data(stats.standardOutput.utf8)) as? [String: Any])
        #expect(counts["total"] as? Int == 3)
        #expect(counts["done"] as? Int == 1 && counts["failed"] as? Int == 1 && counts["queued"] as? Int == 1)
        #expect(((counts["byType"] as? [String: Any])?["ok"] as? [String: Any])?["queued"] as? Int == 1)
        #expect(try spool.spool(["stats"]).standardOutput.contains("total 3"))
    }

    @Test("help for every command, version, and unknown commands")
    func help() throws {
        let overview = try TestSpool.run(["--help"])
        #expect(overview.status == 0)
        for command in ["init", "run", "submit", "list", "show", "stats"] {
            #expect(overview.standardOutput.contains("  " + command))
            let help = try TestSpool.run([command, "--help"])
            #expect(help.status == 0)
            #expect(help.standardOutput.contains("Usage: spool \(command)"))
            #expect(help.standardOutput.contains("--spool DIR"))
        }
        #expect(try TestSpool.run(["frobnicate"]).status == 64)
        #expect(try TestSpool.run([]).status == 64)
        #expect(try TestSpool.run(["--version"]).standardOutput.hasPrefix("spool "))
    }

    @Test("a second processor never recovers a job that a live processor is running")
    func recoveryNeverSteals() throws {
        let spool = try TestSpool(
            configuration: """
                {"handlers": {"long": \(TestSpool.shellHandler("sleep 2"))}}
                """)
        try spool.drop("held.json", #"{"type": "long"}"#)
        let owner = try spool.startProcessor()
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "processing") == ["held"] })
        // Several recovery passes by other processors while the job runs.
        for _ in 0..<3 {
            let other = try spool.spool(["run", "--drain"])
            #expect(other.status == 0)
            #expect(other.standardOutput.contains("processed 0 jobs"))
            #expect(spool.jobIDs(in: "processing") == ["held"])
        }
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "done") == ["held"] })
        #expect(try spool.record("held", in: "done")["attempts"] as? Int == 1)
        #expect(spool.stop(owner) == 0)
    }
}

@Suite("Command line: submit rules")
struct SubmitRuleTests {
    @Test("submit refuses unknown types and --payload with files; a copied finished record runs again")
    func submitRules() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"ok": {"builtin": "noop"}}}"#)
        let unknown = try spool.spool(["submit", "--type", "nope"])
        #expect(unknown.status == 65)
        #expect(unknown.standardError.contains("unknown type \"nope\""))
        let file = spool.scratch + "/copied.json"
        try #"{"type": "ok", "status": "done", "attempts": 1}"#.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try spool.spool(["submit", file, "--payload", "{}"]).status == 64)
        let id = try spool.spool(["submit", file]).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try spool.record(id, in: "queued")["status"] == nil)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        #expect(try spool.record(id, in: "done")["attempts"] as? Int == 2)
    }

    @Test("a type's env overrides the processor's environment")
    func environmentOverride() throws {
        let spool = try TestSpool(
            configuration: """
                {"handlers": {"env": {"command": ["/usr/bin/env"], "env": {"HOME": "/from-config"}}}}
                """)
        try spool.drop("e.json", #"{"type": "env"}"#)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        let output = try #require(spool.contents("results/e.out"))
        let homes = output.split(separator: "\n").filter { $0.hasPrefix("HOME=") }
        #expect(homes == ["HOME=/from-config"])
    }
}
