import Foundation
import Glibc
import SpoolSystem
import Testing

/// Parents split into child batch jobs kept in subdirectories; the parent's counts and outcome
/// derived from the tree.
@Suite("Batches")
struct BatchTests {
    /// A child handler: reads its job, reports its items as processed (all succeeded), prints
    /// its batch number, and fails when its id is listed in `$FAIL_FILE` (if that file exists).
    static func childHandler(failFile: String, trace: String, extra: String = "\"maxAttempts\": 1") -> String {
        TestSpool.shellHandler(
            """
            job=$(cat); echo "$SPOOL_JOB_ID" >> \(trace)
            if [ -f \(failFile) ] && grep -qx "$SPOOL_JOB_ID" \(failFile); then echo "failing on purpose" >&2; exit 1; fi
            size=$(printf '%s\\n' "$job" | sed -n 's/^ *"batchSize": *\\([0-9]*\\).*/\\1/p')
            echo "processed $size succeeded $((size - 1)) failed 1" >&3
            printf '%s\\n' "$job" | sed -n 's/^ *"batchNumber": *\\([0-9]*\\).*/batch \\1/p'
            """, extra: extra)
    }

    /// A parent of `count` integer items.
    static func parent(count: Int, size: Int? = nil, policy: String? = nil, type: String = "child") -> String {
        var batch = #"{"items": "RadarID""#
        if let size { batch += #", "size": \#(size)"# }
        if let policy { batch += #", "onChildFailure": "\#(policy)""# }
        batch += "}"
        let items = (0..<count).map(String.init).joined(separator: ",")
        return
            #"{"type": "\#(type)", "priority": "high", "payload": {"RadarID": [\#(items)], "region": "eu"}, "batch": \#(batch)}"#
    }

    /// Runs `spool run --drain` and expects it to succeed, showing its errors if not.
    static func drain(_ spool: TestSpool, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try spool.spool(["run", "--drain"])
        #expect(result.status == 0, "spool run --drain: \(result.standardError)", sourceLocation: sourceLocation)
    }

    static func childRecords(_ spool: TestSpool, parent: String, in state: String) throws -> [[String: Any]] {
        try spool.jobIDs(in: state + "/" + parent).map { try spool.record(parent + "/" + $0, in: state) }
    }

    @Test("10,000 items of size 400: 25 children numbered 1-25 with offsets 0-9,600; every item exactly once")
    func split() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"child": {"builtin": "noop"}}}"#)
        try spool.drop("p.json", BatchTests.parent(count: 10_000, size: 400))
        try BatchTests.drain(spool)
        let children = try BatchTests.childRecords(spool, parent: "p", in: "done")
        #expect(children.count == 25)
        #expect(spool.jobIDs(in: "done/p") == (1...25).map { String(format: "%04d", $0) })
        #expect(children.map { $0["batchNumber"] as? Int } == (1...25).map { $0 })
        #expect(children.map { $0["batchOffset"] as? Int } == (0..<25).map { $0 * 400 })
        #expect(children.allSatisfy { $0["batchSize"] as? Int == 400 })
        #expect(children.allSatisfy { $0["parentJobId"] as? String == "p" && $0["type"] as? String == "child" })
        #expect(children.allSatisfy { $0["priority"] as? String == "high" })
        var seen: [Int] = []
        for child in children {
            let payload = try #require(child["payload"] as? [String: Any])
            #expect(payload["region"] as? String == "eu")
            seen += try #require(payload["RadarID"] as? [Int])
        }
        #expect(seen == Array(0..<10_000))
        let parent = try spool.record("p", in: "done")
        #expect(parent["childCount"] as? Int == 25)
        #expect(parent["progress"] as? Int == 100)
        #expect(parent["error"] == nil)
        // The parent never ran a handler; nothing is left in the waiting states.
        #expect(parent["attempts"] == nil)
        #expect(spool.names(in: "queued").isEmpty && spool.names(in: "processing").isEmpty)
        // Purging the parent takes its children, their results and logs with it.
        #expect(try spool.spool(["purge", "--state", "done", "--older-than", "0"]).status == 0)
        #expect(spool.names(in: "done").isEmpty && spool.names(in: "results").isEmpty)
        #expect(spool.names(in: "logs").isEmpty)
    }

    @Test("all children succeed: the parent is done with summed counts; two fail: completed with their ids")
    func outcomes() throws {
        let spool = try TestSpool(configuration: "{}")
        let failFile = spool.scratch + "/fail"
        try """
        {"handlers": {"child": \(BatchTests.childHandler(failFile: failFile, trace: spool.scratch + "/trace"))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("good.json", BatchTests.parent(count: 10_000))
        try BatchTests.drain(spool)
        let good = try spool.record("good", in: "done")
        #expect(good["progress"] as? Int == 100)
        let records = try #require(good["records"] as? [String: Int])
        #expect(records == ["total": 10_000, "processed": 10_000, "succeeded": 9_975, "failed": 25])
        #expect((good["children"] as? [String: Int])?["done"] == 25)
        #expect(good["error"] == nil)
        // The result is a manifest; `spool result` concatenates the children's in batch order.
        let result = try spool.spool(["result", "good"])
        #expect(result.standardOutput == (1...25).map { "batch \($0)\n" }.joined())

        try "mixed/0003\nmixed/0017\n".write(toFile: failFile, atomically: true, encoding: .utf8)
        try spool.drop("mixed.json", BatchTests.parent(count: 10_000))
        try BatchTests.drain(spool)
        let mixed = try spool.record("mixed", in: "done")
        #expect(mixed["error"] as? String == "2 out of 25 batch jobs failed")
        #expect(mixed["failedChildren"] as? [String] == ["mixed/0003", "mixed/0017"])
        #expect(spool.jobIDs(in: "failed/mixed") == ["0003", "0017"])
        // The parent's counts are the sums over its children.
        let children = try BatchTests.childRecords(spool, parent: "mixed", in: "done")
        let processed = children.compactMap { ($0["records"] as? [String: Int])?["processed"] }.reduce(0, +)
        #expect(processed == 23 * 400)
        #expect((mixed["records"] as? [String: Int])?["processed"] == processed)
        #expect(mixed["progress"] as? Int == 92)
        let show = try spool.spool(["show", "mixed"])
        #expect(show.standardOutput.contains("mixed/0003 failed"))
        #expect(
            show.standardOutput.contains(
                "children:   25: queued 0  waiting 0  running 0  held 0  forwarded 0  done 23  failed 2"))
    }

    @Test("onChildFailure fail ends the parent in failed/; failFast cancels the children left")
    func failurePolicies() throws {
        let spool = try TestSpool(configuration: "{}")
        let failFile = spool.scratch + "/fail"
        try "strict/0002\nfast/0002\n".write(toFile: failFile, atomically: true, encoding: .utf8)
        let handler = BatchTests.childHandler(
            failFile: failFile, trace: spool.scratch + "/trace", extra: "\"maxAttempts\": 1, \"concurrency\": 1")
        try """
        {"workers": 1, "handlers": {"child": \(handler)}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("strict.json", BatchTests.parent(count: 100, size: 10, policy: "fail"))
        try BatchTests.drain(spool)
        let strict = try spool.record("strict", in: "failed")
        #expect(strict["error"] as? String == "1 out of 10 batch jobs failed")
        #expect(spool.jobIDs(in: "done/strict").count == 9)

        try spool.drop("fast.json", BatchTests.parent(count: 100, size: 10, policy: "failFast"))
        try BatchTests.drain(spool)
        let fast = try spool.record("fast", in: "failed")
        // One worker runs children in batch order: 0001 succeeds, 0002 fails, 0003-0010 are cancelled.
        #expect(spool.jobIDs(in: "done/fast") == ["0001"])
        #expect(spool.jobIDs(in: "failed/fast") == ["0002"])
        #expect(spool.jobIDs(in: "cancelled/fast") == (3...10).map { String(format: "%04d", $0) })
        #expect(fast["error"] as? String == "1 out of 10 batch jobs failed, 8 cancelled")
        let cancelledChild = try spool.record("fast/0005", in: "cancelled")
        #expect((cancelledChild["error"] as? String)?.contains("batch job fast/0002 failed") == true)
        let trace = try String(contentsOfFile: spool.scratch + "/trace", encoding: .utf8)
        #expect(!trace.contains("fast/0003"))
    }

    @Test("spool submit --items-from builds a parent from lines or a JSON array")
    func submitItemsFrom() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"child": {"builtin": "noop"}}}"#)
        let lines = spool.scratch + "/ids.txt"
        try "a\nb\n\n c \nd\ne\n".write(toFile: lines, atomically: true, encoding: .utf8)
        let submitted = try spool.spool([
            "submit", "--type", "child", "--payload", #"{"report": "x"}"#, "--items-from", lines, "--batch-size", "2",
            "--items-field", "ids", "--id", "fromlines",
        ])
        #expect(submitted.status == 0)
        let queued = try spool.record("fromlines", in: "queued")
        #expect((queued["payload"] as? [String: Any])?["ids"] as? [String] == ["a", "b", "c", "d", "e"])
        let batch = try #require(queued["batch"] as? [String: Any])
        #expect(batch["items"] as? String == "ids" && batch["size"] as? Int == 2)
        let array = spool.scratch + "/ids.json"
        try "[1, 2, 3]".write(toFile: array, atomically: true, encoding: .utf8)
        #expect(
            try spool.spool(["submit", "--type", "child", "--items-from", array, "--id", "fromarray"]).status == 0)
        try BatchTests.drain(spool)
        #expect(spool.jobIDs(in: "done/fromlines") == ["0001", "0002", "0003"])
        #expect(try spool.record("fromlines/0003", in: "done")["batchSize"] as? Int == 1)
        #expect(spool.jobIDs(in: "done/fromarray") == ["0001"])
        // A bad batch section is refused at submit, naming the field.
        let badFile = spool.scratch + "/bad.json"
        try #"{"type": "child", "payload": {"ids": [1]}, "batch": {"items": "ids", "size": 0}}"#.write(
            toFile: badFile, atomically: true, encoding: .utf8)
        let bad = try spool.spool(["submit", badFile])
        #expect(bad.status == 65)
        #expect(bad.standardError.contains("\"batch.size\" must be an integer from 1 to 1000000"))
        let missing = try spool.spool(["submit", "--type", "child", "--items-from", spool.scratch + "/absent"])
        #expect(missing.status == 66)
    }

    @Test("spool retry PARENT re-runs only the failed children; the parent then reflects the new outcome")
    func retryParent() throws {
        let spool = try TestSpool(configuration: "{}")
        let failFile = spool.scratch + "/fail"
        let trace = spool.scratch + "/trace"
        try "p/0003\np/0017\n".write(toFile: failFile, atomically: true, encoding: .utf8)
        try """
        {"handlers": {"child": \(BatchTests.childHandler(failFile: failFile, trace: trace))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("p.json", BatchTests.parent(count: 10_000))
        try BatchTests.drain(spool)
        #expect(try spool.record("p", in: "done")["error"] as? String == "2 out of 25 batch jobs failed")
        try FileManager.default.removeItem(atPath: failFile)
        let retry = try spool.spool(["retry", "p"])
        #expect(retry.status == 0)
        #expect(spool.jobIDs(in: "processing") == ["p"])
        #expect(spool.jobIDs(in: "queued/p") == ["0003", "0017"])
        try BatchTests.drain(spool)
        let parent = try spool.record("p", in: "done")
        #expect(parent["error"] == nil)
        #expect(parent["failedChildren"] == nil)
        #expect((parent["children"] as? [String: Int])?["done"] == 25)
        #expect((parent["records"] as? [String: Int])?["processed"] == 10_000)
        #expect((parent["history"] as? [[String: Any]])?.first?["error"] as? String == "2 out of 25 batch jobs failed")
        // Each child ran once, but the two that failed, which ran twice.
        let runs = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(runs.count == 27)
        #expect(runs.filter { $0 == "p/0003" }.count == 2 && runs.filter { $0 == "p/0001" }.count == 1)
        // A parent whose children all succeeded has nothing to retry.
        #expect(try spool.spool(["retry", "p"]).status == 65)
    }

    @Test("spool cancel PARENT leaves no child running or queued, and their processes are gone")
    func cancelParent() throws {
        let spool = try TestSpool(configuration: "{}")
        let pids = spool.scratch + "/pids"
        try """
        {"killGrace": 1, "workers": 2, "handlers": {"child": \(TestSpool.shellHandler(
                "echo $$ >> \(pids); sleep 60"))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("p.json", BatchTests.parent(count: 100, size: 10))
        let processor = try spool.startProcessor()
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "processing/p").count == 2 })
        // A hold of the parent holds its waiting children; a release lets them go again.
        #expect(try spool.spool(["hold", "p"]).status == 0)
        #expect(spool.jobIDs(in: "held/p").count == 8)
        #expect(try spool.spool(["release", "p"]).status == 0)
        #expect(spool.jobIDs(in: "queued/p").count == 8)
        let cancel = try spool.spool(["cancel", "p", "--reason", "wrong list", "--wait"])
        #expect(cancel.status == 0)
        #expect(spool.jobIDs(in: "cancelled") == ["p"])
        #expect(spool.jobIDs(in: "cancelled/p").count == 10)
        #expect(spool.names(in: "queued").isEmpty && spool.names(in: "processing").isEmpty)
        let handlerPids = try String(contentsOfFile: pids, encoding: .utf8).split(separator: "\n").compactMap {
            Int32($0)
        }
        #expect(handlerPids.count == 2)
        #expect(
            spool.waitUntil(timeout: 3) { handlerPids.allSatisfy { kill($0, 0) != 0 || TestProcesses.isZombie($0) } })
        let parent = try spool.record("p", in: "cancelled")
        #expect((parent["error"] as? String)?.contains(": wrong list") == true)
        #expect(spool.stop(processor) == 0)
    }
}

/// Parents under kill -9: the split and the children's outcomes survive the processor.
@Suite("Batches under kill -9", .serialized)
struct BatchCrashTests {
    @Test("kill -9 during the split: a restart publishes each child exactly once and the parent completes")
    func killDuringSplit() throws {
        let spool = try TestSpool(
            configuration: #"{"maxJobBytes": 67108864, "handlers": {"child": {"builtin": "noop"}}}"#)
        // Big enough that the split takes a while in a debug build: 600,000 items, 1,500 children.
        try spool.drop("big.json", BatchTests.parent(count: 600_000))
        let processor = try spool.startProcessor()
        let staging = { spool.names(in: "tmp").contains { $0.hasPrefix("split-big") } }
        #expect(spool.waitUntil(timeout: 60) { staging() && (spool.names(in: "tmp").isEmpty == false) })
        // Let some children be written, then kill the processor before it publishes them.
        usleep(100_000)
        kill(processor.processIdentifier, SIGKILL)
        processor.waitUntilExit()
        try #require(!FileManager.default.fileExists(atPath: spool.root + "/queued/big"), "the split finished first")
        #expect(spool.jobIDs(in: "processing") == ["big"])
        try BatchTests.drain(spool)
        #expect(spool.jobIDs(in: "done/big").count == 1_500)
        #expect(spool.jobIDs(in: "done/big") == (1...1_500).map { String(format: "%04d", $0) })
        let parent = try spool.record("big", in: "done")
        #expect(parent["childCount"] as? Int == 1_500)
        #expect((parent["records"] as? [String: Int])?["processed"] == 600_000)
    }

    @Test("kill -9 while children run: after a restart the parent completes with the children's sums")
    func killWhileChildrenRun() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/trace"
        try """
        {"workers": 2, "handlers": {"child": \(BatchTests.childHandler(
                failFile: spool.scratch + "/none", trace: trace, extra: "\"maxAttempts\": 3").replacingOccurrences(
                of: "job=$(cat);", with: "job=$(cat); sleep 0.3;"))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("p.json", BatchTests.parent(count: 4_000))
        let processor = try spool.startProcessor()
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "done/p").count >= 3 })
        kill(processor.processIdentifier, SIGKILL)
        processor.waitUntilExit()
        #expect(spool.jobIDs(in: "done").isEmpty)
        try BatchTests.drain(spool)
        let parent = try spool.record("p", in: "done")
        #expect(parent["error"] == nil)
        #expect(spool.jobIDs(in: "done/p").count == 10)
        let children = try BatchTests.childRecords(spool, parent: "p", in: "done")
        let sum = { (key: String) in children.compactMap { ($0["records"] as? [String: Int])?[key] }.reduce(0, +) }
        let records = try #require(parent["records"] as? [String: Int])
        #expect(records["processed"] == sum("processed") && sum("processed") == 4_000)
        #expect(records["succeeded"] == sum("succeeded") && records["failed"] == sum("failed"))
        #expect(spool.names(in: "processing").isEmpty && spool.names(in: "queued").isEmpty)
    }
}
