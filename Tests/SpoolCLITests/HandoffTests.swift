import Foundation
import Glibc
import SpoolSystem
import Testing

/// Jobs handed over with the real rsync, and renames that report failure after succeeding
/// (what NFS does when a reply is lost and the request is sent again).
@Suite("Hand-off between hosts")
struct HandoffTests {
    static let rsync = ["/usr/bin/rsync", "/bin/rsync", "/usr/local/bin/rsync"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Starts the real rsync with these arguments.
    static func startRsync(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(rsync))
        process.arguments = arguments
        try process.run()
        return process
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
        let transfer = try Self.startRsync([
            "-a", "--bwlimit=2000", "--remove-source-files", outgoing + "/", spool.root + "/queued/",
        ])
        #expect(spool.waitUntil(timeout: 30) { Self.lines(trace).count >= 10 })
        kill(transfer.processIdentifier, SIGKILL)
        transfer.waitUntilExit()
        let sentBeforeKill = Self.lines(trace).count
        #expect(sentBeforeKill < ids.count, "the transfer finished before it could be killed")
        // Run it again to the end.
        let again = try Self.startRsync(["-a", "--remove-source-files", outgoing + "/", spool.root + "/queued/"])
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
            let push = try Self.startRsync(["-a", outgoing + "/", spool.root + "/queued/"])
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

    /// Spools A and B on this machine, as two hosts: A forwards `render` jobs to B with rsync,
    /// B runs them and returns each finished job to A the same way.
    static func twoSpools(destination: String? = nil, backoff: String = "") throws -> (
        a: TestSpool, b: TestSpool, trace: String
    ) {
        let a = try TestSpool(configuration: "{}")
        let b = try TestSpool(configuration: "{}")
        let trace = b.scratch + "/trace"
        try """
        {"handlers": {}, "routes": {"to-b": {"types": ["render", "lookup"], "destination": "\(destination ?? b.root)",
                                            "returnVia": "back-to-a"\(backoff)}}}
        """.write(toFile: a.root + "/spool.json", atomically: true, encoding: .utf8)
        try """
        {"handlers": {"render": \(TestSpool.shellHandler("cat > /dev/null; echo \"$SPOOL_JOB_ID\" >> \(trace); echo \"rendered $SPOOL_JOB_ID\"")),
                      "lookup": {"builtin": "noop"}},
         "routes": {"back-to-a": {"destination": "\(a.root)", "returns": true}}}
        """.write(toFile: b.root + "/spool.json", atomically: true, encoding: .utf8)
        return (a, b, trace)
    }

    @Test(
        "1,000 jobs forwarded from A to B by rsync run on B once each, and their records and results come back",
        .enabled(if: rsync != nil, "needs rsync (.ci/run installs it)"))
    func roundTrip() throws {
        let (a, b, trace) = try Self.twoSpools()
        let ids = try a.dropMany(1000, prefix: "r") { _ in #"{"type": "render", "payload": {"scene": 1}}"# }
        let origin = try a.startProcessor()
        let destination = try b.startProcessor()
        #expect(a.waitUntil(timeout: 240) { a.jobIDs(in: "done").count == ids.count })
        #expect(a.stop(origin) == 0)
        #expect(b.stop(destination) == 0)
        let ran = Self.lines(trace)
        #expect(ran.count == ids.count && Set(ran) == Set(ids))
        #expect(Set(b.jobIDs(in: "done")) == Set(ids))
        #expect(a.names(in: "forwarded").isEmpty && a.names(in: "failed").isEmpty)
        #expect(a.names(in: "outbox/to-b").isEmpty && b.names(in: "outbox/back-to-a").isEmpty)
        for id in [ids[0], ids[499], ids[999]] {
            let record = try a.record(id, in: "done")
            #expect(record["forwardedTo"] as? String == "to-b")
            #expect((record["remote"] as? [String: Any])?["route"] as? String == "to-b")
            #expect(record["attempts"] as? Int == 1 && record["exitCode"] as? Int == 0)
            #expect(a.contents("results/\(id).out") == "rendered \(id)\n")
        }
        let shown = try a.spool(["show", ids[0]])
        #expect(shown.standardOutput.contains("forwardedTo: to-b") && shown.standardOutput.contains("remote:"))
    }

    @Test(
        "while the destination is missing, forwarded jobs wait in the outbox, and go when it returns",
        .enabled(if: rsync != nil, "needs rsync (.ci/run installs it)"))
    func destinationDown() throws {
        let later = NSTemporaryDirectory() + "spool-later-" + String(UInt32.random(in: 0...UInt32.max))
        defer { try? FileManager.default.removeItem(atPath: later) }
        let (a, b, trace) = try Self.twoSpools(destination: later, backoff: #", "backoff": {"base": 0.2, "max": 1}"#)
        let ids = try a.dropMany(20, prefix: "w") { _ in #"{"type": "render"}"# }
        let origin = try a.startProcessor()
        #expect(a.waitUntil(timeout: 30) { a.jobIDs(in: "forwarded").count == ids.count })
        // The transport fails and is tried again with backoff; the jobs stay in a sending directory.
        #expect(a.waitUntil(timeout: 30) { a.processorErrors().contains("route to-b: transport") })
        let outbox = a.root + "/outbox/to-b"
        var waiting: [String] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: outbox)) ?? [] {
            if name.hasPrefix(".sending-") {
                waiting += try FileManager.default.contentsOfDirectory(atPath: outbox + "/" + name)
            } else {
                waiting.append(name)
            }
        }
        #expect(Set(waiting.map { String($0.dropLast(5)) }) == Set(ids))
        #expect(!FileManager.default.fileExists(atPath: later))
        // The destination comes back: B's spool appears at that path, with a processor.
        try FileManager.default.moveItem(atPath: b.root, toPath: later)
        let revived = Process()
        revived.executableURL = URL(fileURLWithPath: TestSpool.binary)
        revived.arguments = ["run", "--spool", later] + TestSpool.rootHandlerArguments
        revived.standardError = FileHandle.nullDevice
        revived.standardOutput = FileHandle.nullDevice
        try revived.run()
        defer {
            kill(revived.processIdentifier, SIGTERM)
            revived.waitUntilExit()
        }
        #expect(a.waitUntil(timeout: 60) { a.jobIDs(in: "done").count == ids.count })
        #expect(a.stop(origin) == 0)
        #expect(Set(Self.lines(trace)) == Set(ids) && Self.lines(trace).count == ids.count)
    }

    @Test(
        "a parent handed to another spool arrives whole, is split and completed there, and its outcome comes back",
        .enabled(if: rsync != nil, "needs rsync (.ci/run installs it)"))
    func wholeParent() throws {
        let (a, b, _) = try Self.twoSpools()
        let items = (0..<10_000).map(String.init).joined(separator: ",")
        try a.drop("p.json", #"{"type": "lookup", "payload": {"ids": [\#(items)]}, "batch": {"items": "ids"}}"#)
        let origin = try a.startProcessor()
        let destination = try b.startProcessor()
        #expect(a.waitUntil(timeout: 120) { a.jobIDs(in: "done") == ["p"] })
        #expect(a.stop(origin) == 0)
        #expect(b.stop(destination) == 0)
        // A never split it; B did, into all 25 children.
        #expect(a.names(in: "queued").isEmpty && !FileManager.default.fileExists(atPath: a.root + "/done/p"))
        #expect(b.jobIDs(in: "done/p").count == 25)
        let parent = try a.record("p", in: "done")
        #expect(parent["childCount"] as? Int == 25)
        #expect((parent["children"] as? [String: Int])?["done"] == 25)
        #expect((parent["records"] as? [String: Int])?["processed"] == 10_000)
    }

    @Test("the example configurations of the two-host walkthrough load")
    func examples() throws {
        for name in ["a-spool.json", "b-spool.json"] {
            let spool = try TestSpool(configuration: "{}")
            let example = ExamplesTests.repository.appendingPathComponent("examples/handoff/" + name).path
            try FileManager.default.removeItem(atPath: spool.root + "/spool.json")
            try FileManager.default.copyItem(atPath: example, toPath: spool.root + "/spool.json")
            let opened = try spool.spool(["schedules"])
            #expect(opened.status == 0, "\(name): \(opened.standardError)")
        }
    }

    static let canMakeNamespaces: Bool = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")

    /// Runs `ip ARGS`; true on success.
    @discardableResult
    static func ip(_ arguments: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    @Test(
        "the round trip across two network namespaces, each side with an rsync daemon",
        .enabled(if: rsync != nil && canMakeNamespaces, "needs root, iproute2 and rsync (skipped elsewhere)"))
    func networkNamespaces() throws {
        let tag = String(UInt32.random(in: 0..<1_000_000))
        let (nsA, nsB) = ("spa" + tag, "spb" + tag)
        let net = "10.231.\(Int.random(in: 1...250))"
        var started: [Process] = []
        defer {
            for process in started where process.isRunning {
                kill(process.processIdentifier, SIGTERM)
                process.waitUntilExit()
            }
            Self.ip(["netns", "del", nsA])
            Self.ip(["netns", "del", nsB])
        }
        try #require(Self.ip(["netns", "add", nsA]) && Self.ip(["netns", "add", nsB]), "cannot make namespaces here")
        #expect(Self.ip(["link", "add", "va" + tag, "type", "veth", "peer", "name", "vb" + tag]))
        #expect(
            Self.ip(["link", "set", "va" + tag, "netns", nsA]) && Self.ip(["link", "set", "vb" + tag, "netns", nsB]))
        for (ns, device, address) in [(nsA, "va" + tag, net + ".1/24"), (nsB, "vb" + tag, net + ".2/24")] {
            #expect(Self.ip(["-n", ns, "addr", "add", address, "dev", device]))
            #expect(
                Self.ip(["-n", ns, "link", "set", device, "up"]) && Self.ip(["-n", ns, "link", "set", "lo", "up"]))
        }
        let a = try TestSpool(configuration: "{}")
        let b = try TestSpool(configuration: "{}")
        let trace = b.scratch + "/trace"
        try """
        {"handlers": {}, "routes": {"to-b": {"types": ["render"], "destination": "rsync://\(net).2:8873/spool",
                                            "returnVia": "back-to-a", "backoff": {"base": 0.2, "max": 2}}}}
        """.write(toFile: a.root + "/spool.json", atomically: true, encoding: .utf8)
        try """
        {"handlers": {"render": \(TestSpool.shellHandler("echo \"$SPOOL_JOB_ID\" >> \(trace); echo \"rendered $SPOOL_JOB_ID\""))},
         "routes": {"back-to-a": {"destination": "rsync://\(net).1:8873/spool", "returns": true,
                                  "backoff": {"base": 0.2, "max": 2}}}}
        """.write(toFile: b.root + "/spool.json", atomically: true, encoding: .utf8)
        func inNamespace(_ ns: String, _ command: [String]) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = ["netns", "exec", ns] + command
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            started.append(process)
            return process
        }
        for (ns, spool, address) in [(nsA, a, net + ".1"), (nsB, b, net + ".2")] {
            let configuration = spool.scratch + "/rsyncd.conf"
            try """
            [spool]
                path = \(spool.root)
                read only = no
                use chroot = no
                uid = root
                gid = root

            """.write(toFile: configuration, atomically: true, encoding: .utf8)
            _ = try inNamespace(
                ns,
                [
                    try #require(Self.rsync), "--daemon", "--no-detach", "--address", address, "--port", "8873",
                    "--config", configuration,
                ])
        }
        _ = try inNamespace(nsA, [TestSpool.binary, "run", "--spool", a.root] + TestSpool.rootHandlerArguments)
        _ = try inNamespace(nsB, [TestSpool.binary, "run", "--spool", b.root] + TestSpool.rootHandlerArguments)
        let ids = try a.dropMany(50, prefix: "n") { _ in #"{"type": "render"}"# }
        #expect(a.waitUntil(timeout: 120) { a.jobIDs(in: "done").count == ids.count })
        let ran = Self.lines(trace)
        #expect(ran.count == ids.count && Set(ran) == Set(ids))
        #expect(a.contents("results/\(ids[7]).out") == "rendered \(ids[7])\n")
        #expect(a.names(in: "forwarded").isEmpty)
    }

    @Test(
        "16 processors on one spool, half with inotify and half polling: 10,000 jobs each run once, never twice at a time"
    )
    func sixteenProcessors() throws {
        let spool = try TestSpool(configuration: "{}")
        let trace = spool.scratch + "/trace"
        let running = spool.scratch + "/running"
        try FileManager.default.createDirectory(atPath: running, withIntermediateDirectories: true)
        // noclobber: a second run of a job while the first runs finds its marker and says so.
        let script =
            "set -C; : > \(running)/$SPOOL_JOB_ID 2>/dev/null || echo \"overlap $SPOOL_JOB_ID\" >> \(trace); "
            + "echo \"$SPOOL_JOB_ID\" >> \(trace); rm -f \(running)/$SPOOL_JOB_ID"
        try """
        {"workers": 2, "handlers": {"quick": \(TestSpool.shellHandler(script))}}
        """.write(toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        let processors = try (0..<16).map { index in
            try spool.startProcessor(index % 2 == 0 ? [] : ["--poll", "0.2"])
        }
        let ids = try spool.dropMany(10_000, prefix: "q") { _ in #"{"type": "quick"}"# }
        #expect(spool.waitUntil(timeout: 600) { spool.names(in: "done").count == ids.count })
        for processor in processors { #expect(spool.stop(processor) == 0) }
        let lines = Self.lines(trace)
        #expect(!lines.contains { $0.hasPrefix("overlap") }, "\(lines.filter { $0.hasPrefix("overlap") }.prefix(5))")
        #expect(lines.count == ids.count && Set(lines) == Set(ids))
        let failed = spool.jobIDs(in: "failed")
        #expect(
            failed.isEmpty, "\(failed.prefix(3)): \(failed.first.flatMap { spool.contents("logs/\($0).log") } ?? "")")
        #expect(spool.names(in: "processing").isEmpty)
    }
}
