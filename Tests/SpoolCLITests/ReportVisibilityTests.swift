import Foundation
import Glibc
import SpoolSystem
import Testing

@testable import SpoolKit

@Suite("Reports: what readers see")
struct ReportVisibilityTests {
    @Test("a watcher on results/ never sees a result file before it is complete (reports and a slow command)")
    func resultsNeverHalfWritten() throws {
        let writer = TestSpool.shellHandler(
            #"i=0; while [ $i -lt 200 ]; do echo "line $i of a slow writer"; i=$((i+1)); sleep 0.005; done"#)
        let spool = try TestSpool(
            configuration: ReportFixtures.configuration(
                extraReport: #", "chunkSize": 500"#, extraHandlers: #", "writer": \#(writer)"#))
        try ReportFixtures.writeRecords(spool, count: 20_000)
        for index in 0..<4 {
            try spool.drop("report-\(index).json", #"{"type": "report", "payload": {"file": "records.ndjson"}}"#)
            try spool.drop("writer-\(index).json", #"{"type": "writer"}"#)
        }
        let firstSeen = Locked([String: Data]())
        let stop = Locked(false)
        let watcher = Thread {
            var seen = [String: Data]()
            while !stop.get() {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: spool.root + "/results")) ?? []
                where seen[name] == nil {
                    seen[name] = FileManager.default.contents(atPath: spool.root + "/results/" + name) ?? Data()
                }
                usleep(500)
            }
            firstSeen.set(seen)
        }
        watcher.start()
        try ReportFixtures.drain(spool)
        stop.set(true)
        #expect(spool.waitUntil(timeout: 10) { !watcher.isExecuting })
        let seen = firstSeen.get()
        #expect(seen.count == 8)
        for (name, bytes) in seen {
            let final = FileManager.default.contents(atPath: spool.root + "/results/" + name)
            #expect(bytes == final, "\(name) was seen with \(bytes.count) of \(final?.count ?? 0) bytes")
        }
        #expect(seen["report-0.out"].map { $0.split(separator: UInt8(ascii: "\n")).count } == 20_000)
        #expect(seen["writer-0.out"].map { $0.split(separator: UInt8(ascii: "\n")).count } == 200)
    }

    @Test("spool result --follow prints a running job's result as it grows, then the rest")
    func followGrowingResult() throws {
        let spool = try TestSpool(configuration: "{}")
        let marker = spool.scratch + "/go-on"
        let handler = TestSpool.shellHandler(
            "echo 'first line'; while [ ! -e \(marker) ]; do sleep 0.05; done; echo 'second line'")
        try #"{"handlers": {"slow": \#(handler)}}"#.write(
            toFile: spool.root + "/spool.json", atomically: true, encoding: .utf8)
        try spool.drop("grow.json", #"{"type": "slow"}"#)
        let processor = try spool.startProcessor()
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "processing") == ["grow"] })

        let follower = Process()
        follower.executableURL = URL(fileURLWithPath: TestSpool.binary)
        follower.arguments = ["result", "grow", "--follow", "--spool", spool.root]
        let output = Pipe()
        follower.standardOutput = output
        follower.standardError = FileHandle.nullDevice
        try follower.run()
        defer {
            if follower.isRunning { kill(follower.processIdentifier, SIGKILL) }
            follower.waitUntilExit()
        }
        let printed = Locked(Data())
        let reader = Thread {
            while true {
                let data = output.fileHandleForReading.availableData
                if data.isEmpty { break }
                printed.set(printed.get() + data)
            }
        }
        reader.start()
        let sawFirst = spool.waitUntil(timeout: 30) {
            String(decoding: printed.get(), as: UTF8.self) == "first line\n"
        }
        #expect(sawFirst)
        #expect(spool.jobIDs(in: "processing") == ["grow"], "the job was still running when its output was followed")
        _ = FileManager.default.createFile(atPath: marker, contents: Data())
        #expect(spool.waitUntil(timeout: 30) { !follower.isRunning })
        #expect(spool.waitUntil(timeout: 10) { !reader.isExecuting })
        #expect(String(decoding: printed.get(), as: UTF8.self) == "first line\nsecond line\n")
        #expect(follower.terminationStatus == 0)
        #expect(spool.stop(processor) == 0)
    }

    @Test("show and list --json mask payloads for the invoking user's role; result refuses a report made for more")
    func cliMasking() throws {
        let spool = try TestSpool(
            configuration: ReportFixtures.configuration(owners: #""0": "analyst", "4242": "admin""#))
        try ReportFixtures.writeRecords(spool, count: 5)
        let job =
            #"{"type": "report", "payload": {"file": "records.ndjson", "email": "boss@example.com", "name": "B"}}"#
        try ReportFixtures.drop(spool, id: "mine", job, owner: 0)
        try ReportFixtures.drop(spool, id: "admins", job, owner: 4242)
        let listed = try spool.spool(["list", "--json"])
        #expect(listed.status == 0)
        #expect(!listed.standardOutput.contains("boss@example.com"))
        #expect(!listed.standardOutput.contains("\"name\""))
        #expect(listed.standardOutput.contains("records.ndjson"))
        let shown = try spool.spool(["show", "mine"])
        #expect(!shown.standardOutput.contains("boss@example.com") && shown.standardOutput.contains("payload:"))
        let shownJSON = try spool.spool(["show", "admins", "--json"])
        #expect(!shownJSON.standardOutput.contains("boss@example.com"))

        try ReportFixtures.drain(spool)
        let own = try spool.spool(["result", "mine"])
        #expect(own.status == 0 && ReportFixtures.lines(own.standardOutput).count == 5)
        let refused = try spool.spool(["result", "admins"])
        #expect(refused.status == 77, "\(refused.standardOutput)")
        #expect(refused.standardError.contains("masked for role \"admin\""))
        #expect(refused.standardOutput.isEmpty)
    }
}
