import Foundation
import Glibc
import SpoolSystem
import Testing

@testable import SpoolKit

/// Report spools: a data directory of generated records and a `report` type, masked by role.
enum ReportFixtures {
    static let hashKey = "report-tests-hash-key-0123456789"

    /// spool.json with a `report` type over `data/`, roles admin (sees all) and analyst.
    static func configuration(
        format: String = "ndjson", roleClaims: String = "downgrade", owners: String = #""0": "admin""#,
        extraReport: String = "", extraHandlers: String = ""
    ) -> String {
        """
        {"workers": 2, "handlers": {
           "report": {"builtin": "report", "maxAttempts": 3,
                      "report": {"dataDirectory": "data", "format": "\(format)"\(extraReport)}}\(extraHandlers)},
         "masking": {"roles": {"admin": {}, "analyst": {"email": "hash", "ssn": {"partial": 4}, "name": "drop"}},
                     "owners": {\(owners)}, "roleClaims": "\(roleClaims)", "hashKey": "\(hashKey)"}}
        """
    }

    /// Writes `count` NDJSON records to data/NAME in the spool; returns nothing, records are
    /// `{"id": i, "name": "Name i", "email": "user-i@example.com", "ssn": "123-45-NNNN", "city": ...}`.
    static func writeRecords(_ spool: TestSpool, count: Int, name: String = "records.ndjson") throws {
        try FileManager.default.createDirectory(atPath: spool.root + "/data", withIntermediateDirectories: true)
        var text = ""
        text.reserveCapacity(count * 110)
        let cities = ["Oslo", "Lima", "Pune", "Kyiv"]
        for index in 0..<count {
            text += #"{"id": \#(index), "name": "Name \#(index)", "email": "user-\#(index)@example.com", "#
            text += #""ssn": "123-45-\#(String(format: "%04d", index % 10_000))", "city": "\#(cities[index % 4])"}"#
            text += "\n"
        }
        try text.write(toFile: spool.root + "/data/" + name, atomically: true, encoding: .utf8)
    }

    /// Drops a job file owned by `uid` (written under a dot name, chowned, then renamed in).
    static func drop(_ spool: TestSpool, id: String, _ contents: String, owner uid: UInt32) throws {
        let hidden = spool.root + "/queued/." + id + ".writing"
        try contents.write(toFile: hidden, atomically: false, encoding: .utf8)
        guard chown(hidden, uid, uid) == 0 else { throw TestFailure("chown failed: \(errno)") }
        guard rename(hidden, spool.root + "/queued/" + id + ".json") == 0 else { throw TestFailure("rename failed") }
    }

    static func drain(_ spool: TestSpool, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let run = try spool.spool(["run", "--drain", "--quiet"])
        #expect(run.status == 0, "\(run.standardError)", sourceLocation: sourceLocation)
    }

    static func lines(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    static func progressValues(inLog log: String) -> [Int] {
        log.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: " INFO progress ") else { return nil }
            return Int(line[range.upperBound...].dropLast())
        }
    }
}

@Suite("Reports")
struct ReportTests {
    @Test("100,000 records in chunks of 1,000: each once, in order, masked for the owner's role; progress moves")
    func hundredThousandRecords() throws {
        let spool = try TestSpool(configuration: ReportFixtures.configuration(owners: #""0": "analyst""#))
        try ReportFixtures.writeRecords(spool, count: 100_000)
        try spool.drop("whole.json", #"{"type": "report", "payload": {"file": "records.ndjson"}}"#)
        try ReportFixtures.drain(spool)
        let record = try spool.record("whole", in: "done")
        #expect(record["progress"] as? Int == 100)
        #expect((record["records"] as? [String: Int])?["processed"] == 100_000)
        #expect((record["report"] as? [String: Any])?["role"] as? String == "analyst")
        let result = try #require(spool.contents("results/whole.out"))
        let rows = ReportFixtures.lines(result)
        #expect(rows.count == 100_000)
        #expect(result.split(separator: "\n").count == 100_000)
        let hasher = KeyedHash(key: Array(ReportFixtures.hashKey.utf8))
        var mismatches = 0
        for (index, row) in rows.enumerated() {
            // Every record's id, drop and partial; the keyed hash on a sample (it is slow in a debug build).
            let expected =
                row["id"] as? Int == index && row["name"] == nil
                && row["ssn"] as? String == "***" + String(format: "%04d", index % 10_000)
                && (index % 97 != 0 || row["email"] as? String == hasher.hex("user-\(index)@example.com", length: 16))
                && (row["email"] as? String)?.count == 16 && row["city"] as? String != nil
            if !expected { mismatches += 1 }
        }
        #expect(mismatches == 0)
        let progress = ReportFixtures.progressValues(inLog: spool.contents("logs/whole.log") ?? "")
        #expect(progress.contains { $0 > 0 && $0 < 100 }, "progress lines: \(progress)")
        #expect(progress == progress.sorted())
        #expect(!FileManager.default.fileExists(atPath: spool.root + "/processors/work/whole"))
    }

    @Test("killed -9 midway and restarted: the result is byte for byte an uninterrupted run's; it resumed from a chunk")
    func resumeAfterKill() throws {
        let spool = try TestSpool(configuration: ReportFixtures.configuration(format: "csv"))
        try ReportFixtures.writeRecords(spool, count: 100_000)
        let job = #"{"type": "report", "payload": {"file": "records.ndjson"}}"#
        try spool.drop("killed.json", job)
        let processor = try spool.startProcessor()
        let midway = spool.waitUntil(timeout: 60) {
            let progress = (try? spool.record("killed", in: "processing"))?["progress"] as? Int ?? 0
            return progress >= 15
        }
        kill(processor.processIdentifier, SIGKILL)
        processor.waitUntilExit()
        try #require(midway && spool.jobIDs(in: "processing") == ["killed"], "the report finished before the kill")
        #expect(FileManager.default.fileExists(atPath: spool.root + "/processors/work/killed/checkpoint.json"))
        try ReportFixtures.drain(spool)

        try spool.drop("uninterrupted.json", job)
        try ReportFixtures.drain(spool)
        let resumed = try #require(FileManager.default.contents(atPath: spool.root + "/results/killed.out"))
        let whole = try #require(FileManager.default.contents(atPath: spool.root + "/results/uninterrupted.out"))
        #expect(resumed.count == whole.count)
        #expect(resumed == whole)
        let log = spool.contents("logs/killed.log") ?? ""
        let chunk = log.range(of: "report: resuming from chunk ").map { range in
            Int(log[range.upperBound...].prefix { $0.isNumber }) ?? 0
        }
        #expect((chunk ?? 0) > 0, "\(log)")
        #expect(try spool.record("killed", in: "done")["attempts"] as? Int == 2)
        #expect(!(spool.contents("logs/uninterrupted.log") ?? "").contains("resuming"))
    }

    @Test("identical jobs from two uids are masked by each owner's role; a role claimed in the JSON is downgraded")
    func ownerRoles() throws {
        let spool = try TestSpool(
            configuration: ReportFixtures.configuration(owners: #""0": "admin", "4242": "analyst""#))
        try ReportFixtures.writeRecords(spool, count: 50)
        // The JSON claims the admin role twice and an ownerUID of root: none of it may raise a role.
        let job =
            #"{"type": "report", "role": "admin", "ownerUID": 0, "payload": {"file": "records.ndjson", "role": "admin"}}"#
        try ReportFixtures.drop(spool, id: "by-root", job, owner: 0)
        try ReportFixtures.drop(spool, id: "by-4242", job, owner: 4242)
        try ReportFixtures.drop(spool, id: "by-stranger", job, owner: 31337)
        try ReportFixtures.drain(spool)
        let admin = ReportFixtures.lines(spool.contents("results/by-root.out") ?? "")
        let analyst = ReportFixtures.lines(spool.contents("results/by-4242.out") ?? "")
        let stranger = ReportFixtures.lines(spool.contents("results/by-stranger.out") ?? "")
        #expect(admin.count == 50 && analyst.count == 50 && stranger.count == 50)
        #expect(admin.first?["email"] as? String == "user-0@example.com")
        #expect(admin.first?["name"] as? String == "Name 0")
        #expect(analyst.first?["email"] as? String != "user-0@example.com")
        #expect(analyst.first?["name"] == nil)
        #expect(analyst.first?["ssn"] as? String == "***0000")
        // Unmapped owner, no defaultRole: deny-all redacts every field.
        #expect(stranger.first?.values.allSatisfy { $0 as? String == "***" } == true)
        let downgraded = try spool.record("by-4242", in: "done")
        #expect((downgraded["report"] as? [String: Any])?["role"] as? String == "analyst")
        #expect((downgraded["roleClaim"] as? [String: String])?["claimed"] == "admin")
        #expect(downgraded["ownerUID"] as? Int == 4242)
        #expect((spool.contents("logs/by-4242.log") ?? "").contains("claims role \"admin\""))
        #expect(try spool.record("by-root", in: "done")["roleClaim"] == nil)
    }

    @Test("with roleClaims refuse, a job claiming a role its owner lacks fails at once with the reason")
    func refusedClaim() throws {
        let spool = try TestSpool(
            configuration: ReportFixtures.configuration(roleClaims: "refuse", owners: #""4242": "analyst""#))
        try ReportFixtures.writeRecords(spool, count: 10)
        try ReportFixtures.drop(
            spool, id: "claim", #"{"type": "report", "role": "admin", "payload": {"file": "records.ndjson"}}"#,
            owner: 4242)
        try ReportFixtures.drain(spool)
        let record = try spool.record("claim", in: "failed")
        #expect((record["error"] as? String)?.contains("refused") == true)
        #expect(record["attempts"] as? Int == 1)
        #expect(spool.contents("results/claim.out")?.isEmpty == true)
    }

    @Test("a CSV field with commas, quotes and newlines round-trips from a CSV source to a CSV report")
    func csvRoundTrip() throws {
        let spool = try TestSpool(configuration: ReportFixtures.configuration(format: "csv", owners: #""0": "admin""#))
        try FileManager.default.createDirectory(atPath: spool.root + "/data", withIntermediateDirectories: true)
        let tricky = "Smith, \"Jr.\"\nsecond line, with comma"
        let source = CSV.record(["id", "note"]) + CSV.record(["1", tricky]) + CSV.record(["2", "plain"])
        try source.write(toFile: spool.root + "/data/in.csv", atomically: true, encoding: .utf8)
        try spool.drop("csv.json", #"{"type": "report", "payload": {"file": "in.csv"}}"#)
        try ReportFixtures.drain(spool)
        let path = spool.root + "/results/csv.out"
        let fd = try FileSystem.openForReadingSafely(path)
        defer { fd.close() }
        let reader = RecordReader(descriptor: fd, name: path, format: .csv)
        try reader.readHeader()
        #expect(reader.header == ["id", "note"])
        var notes: [String] = []
        while case .object(let object)? = try reader.next() { notes.append(object["note"]?.stringValue ?? "?") }
        #expect(notes == [tricky, "plain"])
        #expect(spool.contents("results/csv.out") == source)
    }

    @Test("paths outside the data directory are refused: '..', absolute, and links leading out")
    func refusedPaths() throws {
        let spool = try TestSpool(configuration: ReportFixtures.configuration())
        try ReportFixtures.writeRecords(spool, count: 3)
        try ReportFixtures.writeRecords(spool, count: 3, name: "../outside.ndjson")
        try FileManager.default.createSymbolicLink(
            atPath: spool.root + "/data/link.ndjson", withDestinationPath: spool.root + "/outside.ndjson")
        // An escaped NUL would end the string at the kernel: "..\u0000" must not pass for a name.
        let cases = [
            "dotdot": "../outside.ndjson", "absolute": spool.root + "/outside.ndjson", "link": "link.ndjson",
            "nul": #"..\u0000/outside.ndjson"#,
        ]
        for (id, path) in cases {
            try spool.drop(id + ".json", #"{"type": "report", "payload": {"file": "\#(path)"}}"#)
        }
        try ReportFixtures.drain(spool)
        for id in cases.keys {
            let record = try spool.record(id, in: "failed")
            #expect((record["error"] as? String)?.contains("refused path") == true, "\(id): \(record["error"] ?? "")")
            #expect(record["attempts"] as? Int == 1)
        }
    }

    @Test("a source command's output is the source: read in chunks, in order, its stderr in the job's log")
    func sourceCommand() throws {
        let script =
            #"i=0; while [ $i -lt 2500 ]; do echo "{\"id\": $i, \"email\": \"e$i@x\"}"; i=$((i+1)); done; echo done >&2"#
        let escaped = script.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        let spool = try TestSpool(
            configuration: ReportFixtures.configuration(
                owners: #""0": "analyst""#,
                extraReport: #", "chunkSize": 100, "sourceCommand": ["/bin/sh", "-c", "\#(escaped)"]"#))
        try spool.drop("fed.json", #"{"type": "report"}"#)
        try ReportFixtures.drain(spool)
        let rows = ReportFixtures.lines(spool.contents("results/fed.out") ?? "")
        #expect(rows.map { $0["id"] as? Int ?? -1 } == Array(0..<2500))
        #expect(rows.first?["email"] as? String != "e0@x")
        let record = try spool.record("fed", in: "done")
        #expect((record["records"] as? [String: Int])?["processed"] == 2500)
        #expect((spool.contents("logs/fed.log") ?? "").contains("done"))
    }
}
