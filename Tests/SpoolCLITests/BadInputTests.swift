import Foundation
import Glibc
import SpoolSystem
import Testing

/// Bad input never stops the processor and never loses a byte: each kind ends in failed/ with a
/// reason naming the file, and list/show cope with it.
@Suite("Bad input")
struct BadInputTests {
    /// Regular files that are not runnable jobs: name, bytes, and a fragment of the expected reason.
    static let badFiles: [(name: String, bytes: String, reason: String)] = [
        (
            "malformed.json", "{\"type\": \"ok\" \"payload\": 1}",
            "malformed JSON: expected ',' or '}' in an object at line 1"
        ),
        ("truncated.json", "{\"type\": \"ok\", \"payload\": {\"a\": [1, 2", "truncated JSON"),
        ("notobject.json", "[1, 2, 3]", "a job must be a JSON object, not an array"),
        ("notype.json", "{\"payload\": {}}", "the required field \"type\" is missing"),
        ("typeint.json", "{\"type\": 5}", "\"type\" must be a string, not a number"),
        ("unknowntype.json", "{\"type\": \"no-such-type\"}", "unknown type \"no-such-type\""),
        ("badpriority.json", "{\"type\": \"ok\", \"priority\": \"urgent\"}", "\"priority\" must be an integer"),
        ("dupkeys.json", "{\"type\": \"ok\", \"type\": \"other\"}", "duplicate key \"type\""),
        ("badutf8.json", "{\"type\": \"ok\", \"payload\": \"\u{FFFD}\"}", ""),  // replaced below with raw bytes
        ("empty.json", "", "the file is empty"),
        (
            "toolarge.json", "{\"type\": \"ok\", \"payload\": \"" + String(repeating: "x", count: 3000) + "\"}",
            "over the limit of 2048 (maxJobBytes)"
        ),
        ("bad name.json", "{\"type\": \"ok\"}", "invalid job id: it contains ' '"),
        ("notjson.txt", "{\"type\": \"ok\"}", "not a job file"),
    ]

    @Test("each kind of bad input ends in failed/ with its reason and original bytes; the processor goes on")
    func badInputIsRejected() throws {
        let spool = try TestSpool(
            configuration: """
                {"maxJobBytes": 2048, "handlers": {"ok": {"builtin": "noop"}}}
                """)
        let queued = spool.root + "/queued/"
        let secret = spool.scratch + "/secret.txt"
        try "top secret\n".write(toFile: secret, atomically: true, encoding: .utf8)

        // A job that finishes first, so that a second file with its id is a duplicate.
        try spool.drop("dup.json", #"{"type": "ok"}"#)
        let processor = try spool.startProcessor()
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "done") == ["dup"] })

        var expectedBytes: [String: Data] = [:]
        for file in Self.badFiles {
            var data = Data(file.bytes.utf8)
            if file.name == "badutf8.json" {
                data = Data(#"{"type": "ok", "payload": ""#.utf8) + Data([0xC3, 0x28]) + Data(#""}"#.utf8)
            }
            expectedBytes[file.name] = data
            let hidden = queued + "." + file.name + ".part"
            try data.write(to: URL(fileURLWithPath: hidden))
            // Written a moment ago: make it old enough not to be mistaken for a file being written.
            var times = [timespec(tv_sec: time(nil) - 60, tv_nsec: 0), timespec(tv_sec: time(nil) - 60, tv_nsec: 0)]
            utimensat(AT_FDCWD, hidden, &times, 0)
            #expect(rename(hidden, queued + file.name) == 0)
        }
        try spool.drop("dup.json", #"{"type": "ok", "second": true}"#)
        #expect(symlink(secret, queued + "link.json") == 0)
        #expect(symlink(spool.scratch, queued + "dirlink.json") == 0)
        #expect(mkfifo(queued + "fifo.json", 0o644) == 0)
        let socketDescriptor = try Self.bindUnixSocket(queued + "socket.json")
        defer { close(socketDescriptor) }
        try FileManager.default.createDirectory(atPath: spool.scratch + "/adir", withIntermediateDirectories: false)
        try "inside".write(toFile: spool.scratch + "/adir/keep", atomically: true, encoding: .utf8)
        #expect(rename(spool.scratch + "/adir", queued + "adir.json") == 0)
        try #"{"type": "ok"}"#.write(toFile: spool.scratch + "/original.json", atomically: true, encoding: .utf8)
        #expect(link(spool.scratch + "/original.json", queued + "hardlink.json") == 0)
        // And a good job after all of that: the processor must still run it.
        try spool.drop("good.json", #"{"type": "ok"}"#)

        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "done").contains("good") })
        // Well before the 30 s rescan: every kind is noticed through inotify.
        #expect(spool.waitUntil(timeout: 10) { spool.names(in: "queued").isEmpty }, "\(spool.names(in: "queued"))")
        #expect(processor.isRunning)
        let failed = spool.names(in: "failed")

        // A rejection is logged just after its rename to failed/: wait for the last lines.
        #expect(
            spool.waitUntil(timeout: 10) {
                let lines = ((try? Self.logEntries(of: spool)) ?? []).map(\.line)
                return Self.badFiles.allSatisfy { file in
                    lines.contains { $0.contains("rejected queued/\(file.name):") }
                }
                    && lines.contains { $0.contains("rejected queued/hardlink.json:") }
            })
        let logEntries = try Self.logEntries(of: spool)
        for file in Self.badFiles {
            let entry = try #require(
                logEntries.first { $0.line.contains("rejected queued/\(file.name):") }, "\(file.name)")
            if !file.reason.isEmpty { #expect(entry.line.contains(file.reason), "\(entry.line)") }
            let stem = entry.id
            let kept = try Data(contentsOf: URL(fileURLWithPath: spool.root + "/failed/" + stem + ".json"))
            #expect(kept == expectedBytes[file.name], "bytes of \(file.name)")
        }
        let logs = logEntries.map(\.line)
        #expect(
            logs.contains { $0.contains("rejected queued/badutf8.json: malformed JSON: invalid UTF-8 in a string") })
        #expect(
            logs.contains { $0.contains("rejected queued/dup.json: duplicate id: a job dup already exists in done/") })
        #expect(logs.contains { $0.contains("rejected queued/link.json: it is a symbolic link") })
        #expect(logs.contains { $0.contains("rejected queued/dirlink.json: it is a symbolic link") })
        #expect(logs.contains { $0.contains("rejected queued/fifo.json: it is a FIFO") })
        #expect(logs.contains { $0.contains("rejected queued/socket.json: it is a socket") })
        #expect(logs.contains { $0.contains("rejected queued/adir.json: it is a directory") })
        #expect(logs.contains { $0.contains("rejected queued/hardlink.json: it has 2 hard links") })

        // Links and special files were moved, never followed or opened.
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: spool.root + "/failed/link.json") == secret)
        #expect(try String(contentsOfFile: secret, encoding: .utf8) == "top secret\n")
        #expect(failed.contains("fifo.json") && failed.contains("socket.json") && failed.contains("adir.json"))
        #expect(try String(contentsOfFile: spool.root + "/failed/adir.json/keep", encoding: .utf8) == "inside")
        #expect(try spool.record("dup", in: "done")["second"] == nil)
        let duplicate = try #require(logEntries.first { $0.line.contains("rejected queued/dup.json:") })
        #expect(duplicate.id.hasPrefix("dup.rejected-"))
        #expect(try spool.record(duplicate.id, in: "failed")["second"] as? Bool == true)

        // list, show and stats cope with every entry.
        let list = try spool.spool(["list", "--json"])
        #expect(list.status == 0)
        let listed = try #require(
            try JSONSerialization.jsonObject(with: Data(list.standardOutput.utf8)) as? [[String: Any]])
        let failedIDs = Set(spool.jobIDs(in: "failed"))
        #expect(
            Set(listed.filter { $0["state"] as? String == "failed" }.compactMap { $0["id"] as? String }) == failedIDs)
        for entry in listed where entry["state"] as? String == "failed" {
            #expect((entry["error"] as? String)?.isEmpty == false, "\(entry)")
        }
        for id in failedIDs {
            let show = try spool.spool(["show", id])
            #expect(show.status == 0, "show \(id): \(show.standardError)")
            #expect(show.standardOutput.contains("state:      failed"))
        }
        #expect(try spool.spool(["list"]).status == 0)
        #expect(try spool.spool(["stats", "--json"]).status == 0)
        #expect(spool.stop(processor) == 0)
    }

    @Test("a file being written in place is not rejected while it is still incomplete")
    func partialWriteInPlaceIsGivenTime() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"ok": {"builtin": "noop"}}}"#)
        let processor = try spool.startProcessor()
        #expect(spool.waitUntil(timeout: 30) { spool.names(in: "processors").count == 1 })
        _ = FileManager.default.createFile(atPath: spool.root + "/queued/slow.json", contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: spool.root + "/queued/slow.json"))
        handle.write(Data(#"{"type": "#.utf8))
        usleep(700_000)
        handle.write(Data(#""ok"}"#.utf8))
        try handle.close()
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "done") == ["slow"] })
        #expect(spool.names(in: "failed").isEmpty)
        #expect(spool.stop(processor) == 0)
    }

    /// Every line of every job log, with the job id the log belongs to (its file name).
    static func logEntries(of spool: TestSpool) throws -> [(id: String, line: String)] {
        try spool.names(in: "logs").flatMap { name in
            try String(contentsOfFile: spool.root + "/logs/" + name, encoding: .utf8).split(separator: "\n")
                .map { (String(name.dropLast(4)), String($0)) }
        }
    }

    static func bindUnixSocket(_ path: String) throws -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestFailure("socket: \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() where index < buffer.count - 1 { buffer[index] = byte }
        }
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else { throw TestFailure("bind: \(errno)") }
        return descriptor
    }
}
