import Foundation
import Glibc
import Testing

/// Jobs handed over with the real rsync, and renames that report failure after succeeding
/// (what NFS does when a reply is lost and the request is sent again).
@Suite("Hand-off between hosts")
struct HandoffTests {
    static let rsync = ["/usr/bin/rsync", "/bin/rsync", "/usr/local/bin/rsync"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    static func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test("renames that report ENOENT or EEXIST after succeeding: every job still runs exactly once")
    func lostRenameReplies() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/trace"
        try """
        {"handlers": {"mark": \(TestSpool.shellHandler("echo \"$SPOOL_JOB_ID\" >> \(trace)"))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        let faults = ["SPOOL_FAULT_RENAME": "enoent=0.25,eexist=0.25"]
        // Submitting publishes by rename too.
        for number in 0..<20 {
            let submitted = try spool.spool(["submit", "--type", "mark", "--id", "sub-\(number)"], environment: faults)
            #expect(submitted.status == 0, "\(submitted.standardError)")
        }
        let dropped = try spool.dropMany(280, prefix: "drop") { _ in #"{"type": "mark"}"# }
        let result = try spool.spool(["run", "--drain"], environment: faults)
        #expect(result.status == 0, "\(result.standardError)")
        let expected = Set(dropped + (0..<20).map { "sub-\($0)" })
        let ran = Self.lines(trace)
        #expect(ran.count == expected.count && Set(ran) == expected)
        #expect(Set(spool.jobIDs(in: "done")) == expected)
        #expect(spool.names(in: "failed").isEmpty && spool.names(in: "processing").isEmpty)
        #expect(spool.names(in: "queued").isEmpty)
    }

    @Test(
        "rsync killed mid-transfer, then run again: no partial file is ever claimed and every job runs once",
        .enabled(if: rsync != nil, "needs rsync (.ci/run installs it)"))
    func rsyncKilledMidTransfer() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/trace"
        try """
        {"handlers": {"mark": \(TestSpool.shellHandler("cat > /dev/null; echo \"$SPOOL_JOB_ID\" >> \(trace)"))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        // Jobs of 64 KiB each, sent at 2 MB/s: the transfer takes seconds and is killed in the middle.
        let outgoing = spool.scratch + "/outgoing"
        try FileManager.default.createDirectory(atPath: outgoing, withIntermediateDirectories: true)
        let padding = String(repeating: "x", count: 64 * 1024)
        let ids = (0..<120).map { String(format: "job-%03d", $0) }
        for id in ids {
            try #"{"type": "mark", "payload": {"padding": "\#(padding)"}}"#.write(
                toFile: outgoing + "/" + id + ".json", atomically: true, encoding: .utf8)
        }
        let processor = try spool.startProcessor()
        let transfer = Process()
        transfer.executableURL = URL(fileURLWithPath: try #require(Self.rsync))
        transfer.arguments = ["-a", "--bwlimit=2000", "--remove-source-files", outgoing + "/", spool.root + "/queued/"]
        try transfer.run()
        #expect(spool.waitUntil(timeout: 30) { Self.lines(trace).count >= 10 })
        kill(transfer.processIdentifier, SIGKILL)
        transfer.waitUntilExit()
        let sentBeforeKill = Self.lines(trace).count
        #expect(sentBeforeKill < ids.count, "the transfer finished before it could be killed")
        // Run it again to the end.
        let again = Process()
        again.executableURL = URL(fileURLWithPath: try #require(Self.rsync))
        again.arguments = ["-a", "--remove-source-files", outgoing + "/", spool.root + "/queued/"]
        try again.run()
        again.waitUntilExit()
        #expect(again.terminationStatus == 0)
        #expect(spool.waitUntil(timeout: 60) { Set(spool.jobIDs(in: "done")) == Set(ids) })
        #expect(spool.stop(processor) == 0)
        let ran = Self.lines(trace)
        #expect(ran.count == ids.count && Set(ran) == Set(ids))
        // Nothing partial was ever claimed: nothing was rejected as malformed or truncated. Files
        // rsync had sent but not yet removed from outgoing/ when it was killed are sent again by
        // the second run, and rejected as duplicates of the jobs that already ran.
        for rejected in spool.jobIDs(in: "failed") {
            let log = spool.contents("logs/\(rejected).log") ?? ""
            #expect(log.contains("duplicate id: a job job-") && log.contains("already exists in done/"), "\(log)")
        }
        // rsync's own temporary files (.NAME.XXXXXX), if the kill left one, are never touched.
        #expect(spool.names(in: "queued").allSatisfy { $0.hasPrefix(".") })
    }

    @Test(
        "the same file pushed twice runs once; the second copy is rejected as a duplicate id",
        .enabled(if: rsync != nil, "needs rsync (.ci/run installs it)"))
    func pushedTwice() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/trace"
        try """
        {"handlers": {"mark": \(TestSpool.shellHandler("echo \"$SPOOL_JOB_ID\" >> \(trace)"))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        let outgoing = spool.scratch + "/outgoing"
        try FileManager.default.createDirectory(atPath: outgoing, withIntermediateDirectories: true)
        try #"{"type": "mark"}"#.write(toFile: outgoing + "/once.json", atomically: true, encoding: .utf8)
        for _ in 0..<2 {
            let push = Process()
            push.executableURL = URL(fileURLWithPath: try #require(Self.rsync))
            push.arguments = ["-a", outgoing + "/", spool.root + "/queued/"]
            try push.run()
            push.waitUntilExit()
            #expect(push.terminationStatus == 0)
            let result = try spool.spool(["run", "--drain"])
            #expect(result.status == 0)
        }
        #expect(Self.lines(trace) == ["once"])
        #expect(spool.jobIDs(in: "done") == ["once"])
        let rejected = try #require(spool.jobIDs(in: "failed").first)
        #expect(rejected.hasPrefix("once.rejected-"))
        #expect(
            spool.contents("logs/\(rejected).log")?.contains("duplicate id: a job once already exists in done/")
                == true)
    }
}
