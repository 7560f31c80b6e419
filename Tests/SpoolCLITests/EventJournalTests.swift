import Foundation
import Glibc
import SpoolSystem
import Testing

/// The event journal: one NDJSON line per change of state, read back by `spool events`.
@Suite("Event journal")
struct EventJournalTests {
    /// The journal lines of a spool, parsed.
    static func events(_ spool: TestSpool) throws -> [[String: Any]] {
        let directory = spool.root + "/events"
        var events: [[String: Any]] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() {
            #expect(name.hasSuffix(".ndjson") && name.count == 17, "unexpected journal file \(name)")
            let text = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
            #expect(text.hasSuffix("\n"))
            for line in text.split(separator: "\n") {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                events.append(try #require(object, "not a JSON object: \(line)"))
            }
        }
        return events
    }

    @Test("every transition of a run is one line with its outcome; events filters by type and time")
    func transitionsAreJournalled() throws {
        let spool = try TestSpool(
            configuration: """
                {"handlers": {"ok": \(TestSpool.shellHandler("cat >/dev/null; echo fine")),
                              "bad": \(TestSpool.shellHandler("exit 3", extra: "\"maxAttempts\": 1"))}}
                """)
        let good = try spool.spool(["submit", "-"], input: #"{"type": "ok", "project": "alpha"}"#)
        let goodID = good.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        try spool.drop("broken.json", #"{"type": "bad"}"#)
        try spool.drop("garbage.json", "{not json")
        #expect(try spool.spool(["run", "--drain"]).status == 0)

        let events = try Self.events(spool)
        func transitions(_ id: String) -> [String] {
            events.filter { $0["id"] as? String == id }.map {
                "\($0["from"] as? String ?? "new")>\($0["to"] as! String)"
            }
        }
        #expect(transitions(goodID) == ["new>queued", "queued>processing", "processing>done"])
        #expect(transitions("broken") == ["queued>processing", "processing>failed"])
        #expect(transitions("garbage") == ["queued>failed"])
        let done = try #require(events.first { $0["id"] as? String == goodID && $0["to"] as? String == "done" })
        #expect(done["type"] as? String == "ok")
        #expect(done["project"] as? String == "alpha")
        #expect(done["attempt"] as? Int == 1)
        #expect(done["exit"] as? Int == 0)
        #expect((done["duration"] as? Double).map { $0 >= 0 } == true)
        #expect((done["processor"] as? String)?.isEmpty == false)
        #expect(done["cpuSeconds"] is Double || done["cpuSeconds"] is Int)
        #expect((done["maxRSS"] as? Int).map { $0 > 0 } == true)
        let failed = try #require(events.first { $0["id"] as? String == "broken" && $0["to"] as? String == "failed" })
        #expect(failed["exit"] as? Int == 3)
        // The record keeps the handler's resource use too.
        let record = try spool.record(goodID, in: "done")
        #expect(record["maxRSS"] as? Int == done["maxRSS"] as? Int)

        let filtered = try spool.spool(["events", "--json", "--type", "bad"])
        #expect(filtered.status == 0)
        let lines = filtered.standardOutput.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.contains(#""type":"bad""#) })
        let human = try spool.spool(["events"])
        #expect(human.standardOutput.split(separator: "\n").count == events.count)
        #expect(human.standardOutput.split(separator: "\n").allSatisfy { $0.count <= 80 })
        #expect(try spool.spool(["events", "--since", "2999-01-01T00:00:00Z"]).standardOutput.isEmpty)
        #expect(try spool.spool(["events", "--since", "yesterday"]).status == 64)
    }

    @Test("user requests are journalled from the state they took the job from")
    func userRequestsAreJournalled() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"ok": {"command": ["/bin/true"]}}}"#)
        try spool.drop("j1.json", #"{"type": "ok"}"#)
        #expect(try spool.spool(["hold", "j1"]).status == 0)
        #expect(try spool.spool(["cancel", "j1"]).status == 0)
        #expect(try spool.spool(["retry", "j1"]).status == 0)
        let moves = try Self.events(spool).filter { $0["id"] as? String == "j1" }
            .map { "\($0["from"] as? String ?? "new")>\($0["to"] as! String)" }
        #expect(moves == ["queued>held", "held>cancelled", "cancelled>queued"])
    }

    @Test("events --follow prints events appended after it started")
    func followPrintsNewEvents() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"ok": {"command": ["/bin/true"]}}}"#)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestSpool.binary)
        process.arguments = ["events", "--follow", "--json", "--spool", spool.root]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        defer {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let received = Locked(Data())
        let handle = output.fileHandleForReading
        Thread {
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { return }
                received.set(received.get() + chunk)
            }
        }.start()
        // The follower may start after this submission: submit until one is seen.
        var id = ""
        let seen = spool.waitUntil(timeout: 20) {
            if id.isEmpty
                || !spool.waitUntil(timeout: 0.5, { String(decoding: received.get(), as: UTF8.self).contains(id) })
            {
                id = (try? spool.spool(["submit", "-"], input: #"{"type": "ok"}"#).standardOutput) ?? ""
                id = id.trimmingCharacters(in: .whitespacesAndNewlines)
                return false
            }
            return true
        }
        #expect(seen)
    }
}
