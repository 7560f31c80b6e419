import Foundation
import Glibc
import SpoolSystem
import Testing

@Suite("spool fsck: finds each damage, repairs what is safe")
struct FsckTests {
    /// The kinds of problem `spool fsck --json` reports, with the paths.
    static func problems(_ spool: TestSpool, repair: Bool = false) throws -> (status: Int32, found: [String: [String]])
    {
        let result = try spool.spool(["fsck", "--json"] + (repair ? ["--repair"] : []))
        let data = Data(result.standardOutput.utf8)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let list = object["problems"] as? [[String: Any]]
        else { throw TestFailure("fsck printed no JSON: \(result.standardOutput) \(result.standardError)") }
        var found: [String: [String]] = [:]
        for problem in list where (problem["repaired"] as? Bool) != true {
            found[problem["kind"] as? String ?? "?", default: []].append(problem["path"] as? String ?? "?")
        }
        return (result.status, found)
    }

    func write(_ spool: TestSpool, _ path: String, _ text: String) throws {
        let full = spool.root + "/" + path
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: false, encoding: .utf8)
    }

    func age(_ spool: TestSpool, _ path: String, days: Double) throws {
        try FileManager.default.setAttributes(
            [.modificationDate: Date().addingTimeInterval(-days * 86400)], ofItemAtPath: spool.root + "/" + path)
    }

    @Test("a spool after a normal run is clean: exit 0")
    func cleanAfterRun() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"noop": {"builtin": "noop"}}}"#)
        _ = try spool.dropMany(20) { _ in #"{"type": "noop"}"# }
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        let result = try spool.spool(["fsck"])
        #expect(result.status == 0, "\(result.standardOutput)")
        #expect(result.standardOutput.contains("20 job(s), 0 running, 0 problem(s)"))
    }

    @Test("each damage is found; --repair settles orphans and stale temporaries only")
    func everyDamage() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"noop": {"builtin": "noop"}}}"#)
        let done = #"{"type": "noop", "status": "done"}"#
        try write(spool, "done/twice.json", done)
        try write(spool, "failed/twice.json", #"{"type": "noop", "status": "failed"}"#)
        try write(spool, "done/broken.json", #"{"type": "noop", "sta"#)
        try write(spool, "done/typeless.json", #"{"status": "done"}"#)
        #expect(symlink("/etc/hostname", spool.root + "/done/link.json") == 0)
        #expect(mkfifo(spool.root + "/done/pipe.json", 0o600) == 0)
        // Bad input kept in failed/ as it came is no problem: that is where it belongs.
        #expect(mkfifo(spool.root + "/failed/rejected-pipe.json", 0o600) == 0)
        try write(spool, "failed/rejected-bytes.json", "{not json")
        try write(
            spool, "processing/orphan.json",
            #"{"type": "noop", "status": "running", "attempts": 1, "processor": {"name": "gone-1"}}"#)
        try write(spool, "tmp/record.1.2.tmp", "half")
        try age(spool, "tmp/record.1.2.tmp", days: 2)
        try write(spool, "tmp/split-parent.9.9.tmp/0001.json", #"{"type": "noop"}"#)
        try age(spool, "tmp/split-parent.9.9.tmp", days: 2)
        try write(spool, "done/ghost/0001.json", done)
        try write(spool, "done/parent.json", #"{"type": "noop", "status": "done", "childCount": 3}"#)
        try write(spool, "done/parent/0001.json", done)
        try write(spool, "results/nobody.out", "x")
        try write(spool, "logs/nobody.log", "x")
        try write(spool, "done/noresult.json", #"{"type": "noop", "status": "done", "result": "results/noresult.out"}"#)

        let before = try Self.problems(spool)
        #expect(before.status == 1)
        let expected: [String: [String]] = [
            "duplicate": ["done/twice.json, failed/twice.json"],
            "bad-record": ["done/broken.json", "done/typeless.json"],
            "stray-entry": ["done/link.json", "done/pipe.json"],
            "orphan": ["processing/orphan.json"],
            "stale-temporary": ["tmp/record.1.2.tmp", "tmp/split-parent.9.9.tmp"],
            "child-without-parent": ["done/ghost/"],
            "missing-children": ["done/parent.json"],
            "result-without-job": ["results/nobody.out"],
            "log-without-job": ["logs/nobody.log"],
            "missing-result": ["done/noresult.json"],
        ]
        for (kind, paths) in expected {
            #expect(before.found[kind]?.sorted() == paths.sorted(), "\(kind): \(before.found)")
        }
        #expect(Set(before.found.keys) == Set(expected.keys), "\(before.found)")
        // A plain check changes nothing.
        #expect(FileManager.default.fileExists(atPath: spool.root + "/processing/orphan.json"))

        let repaired = try Self.problems(spool, repair: true)
        #expect(repaired.status == 1)
        #expect(repaired.found["orphan"] == nil)
        #expect(repaired.found["stale-temporary"] == nil)
        #expect(spool.jobIDs(in: "queued") == ["orphan"])
        #expect(!FileManager.default.fileExists(atPath: spool.root + "/tmp/record.1.2.tmp"))
        // Everything else is reported, not touched.
        #expect(repaired.found["duplicate"] != nil && repaired.found["bad-record"]?.count == 2)
        #expect(FileManager.default.fileExists(atPath: spool.root + "/results/nobody.out"))
    }

    @Test("recovery through fsck --repair never takes a live processor's job")
    func liveJobsUntouched() throws {
        let spool = try TestSpool(
            configuration: #"{"handlers": {"slow": \#(TestSpool.shellHandler("sleep 3"))}}"#)
        _ = try spool.dropMany(2) { _ in #"{"type": "slow"}"# }
        let processor = try spool.startProcessor(["--workers", "2"])
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "processing").count == 2 })
        let check = try Self.problems(spool, repair: true)
        #expect(check.found["orphan"] == nil, "\(check.found)")
        #expect(spool.jobIDs(in: "processing").count == 2)
        #expect(spool.waitUntil(timeout: 60) { spool.jobIDs(in: "done").count == 2 })
        #expect(spool.stop(processor) == 0)
        #expect(try spool.spool(["fsck"]).status == 0)
    }
}
