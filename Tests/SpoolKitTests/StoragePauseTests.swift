import Foundation
import Glibc
import SpoolSystem
import Testing

@testable import SpoolKit

/// A journal in a temporary spool directory whose day file is, at first, a symbolic link: the
/// journal never follows one, so nothing can be appended until `unblock()`.
final class BlockedJournal {
    let directory: String
    let journal: EventJournal
    let now = ProcessInfoLite.now()
    var path: String { journal.path(ofDay: EventJournal.day(of: now)) }

    init() throws {
        var template = Array("/tmp/spool-journal-XXXXXX".utf8CString)
        directory = String(cString: try #require(mkdtemp(&template)))
        let layout = SpoolLayout(root: directory)
        try FileManager.default.createDirectory(atPath: layout.eventsDirectory, withIntermediateDirectories: true)
        journal = EventJournal(layout: layout, retention: 14 * 86_400, prunes: false)
        #expect(symlink("/dev/null", path) == 0)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func unblock() { #expect(unlink(path) == 0) }

    func event(_ id: String, _ offset: Double = 0) -> JobEvent {
        JobEvent(time: now + offset, id: id, type: "t", from: "queued", to: "processing", processor: "p")
    }

    func lines() throws -> [Substring] { try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") }
}

@Suite("Event journal: lines lost while it cannot be written")
struct EventJournalLossTests {
    @Test("lost lines are counted, noted once before the next line written, and passed over by readers")
    func lostLinesAreNoted() throws {
        let blocked = try BlockedJournal()
        let journal = blocked.journal
        for index in 0..<3 { journal.append(blocked.event("lost\(index)", Double(index) / 1000)) }
        journal.reportLosses(processor: "p")
        blocked.unblock()

        journal.reportLosses(processor: "p")
        journal.append(blocked.event("kept", 0.01))
        let lines = try blocked.lines()
        #expect(lines.count == 2)
        let note = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(note["note"] as? String == "lost")
        #expect(note["lost"] as? Int == 3)
        #expect(note["since"] as? String == Timestamp.format(blocked.now))
        #expect(note["processor"] as? String == "p")
        #expect(JobEvent(line: Array(lines[0].utf8)) == nil)
        var read: [String] = []
        journal.forEachEvent { read.append($0.id) }
        #expect(read == ["kept"])
    }

    @Test("without an explicit report, the first line written after the losses carries the note")
    func noteGoesWithTheNextLine() throws {
        let blocked = try BlockedJournal()
        blocked.journal.append(blocked.event("lost"))
        blocked.unblock()
        blocked.journal.append(blocked.event("a"))
        blocked.journal.append(blocked.event("b"))
        let lines = try blocked.lines()
        #expect(lines.count == 3)
        #expect(lines[0].contains(#""note":"lost","lost":1"#))
        #expect(lines.dropFirst().allSatisfy { JobEvent(line: Array($0.utf8)) != nil })
    }
}

@Suite("Dispatch: claims paused, and what a drain waits for")
struct DispatchClaimPauseTests {
    @Test("a paused queue hands out nothing until resumed, while arrivals are still indexed")
    func pauseAndResume() {
        let queue = WorkQueue(concurrencyLimits: [:])
        queue.pauseClaims()
        queue.add([IndexEntry(id: "a", type: "t", priority: 0, arrival: 1)])
        let taken = Locked<String?>(nil)
        let handedOut = DispatchSemaphore(value: 0)
        Thread {
            let entry = queue.next()
            taken.withLock { $0 = entry?.id }
            handedOut.signal()
        }.start()
        #expect(handedOut.wait(timeout: .now() + 0.3) == .timedOut)
        #expect(queue.load == (1, 0))
        queue.resumeClaims()
        #expect(handedOut.wait(timeout: .now() + 10) == .success)
        #expect(taken.withLock { $0 } == "a")
        queue.stop()
    }

    @Test("outlook: jobs ready or due by the horizon against later ones; held types left out")
    func outlook() {
        let queue = WorkQueue(concurrencyLimits: [:])
        let now = ProcessInfoLite.now()
        func entry(_ id: String, type: String = "t", in seconds: Double? = nil) -> IndexEntry {
            IndexEntry(id: id, type: type, priority: 0, arrival: 1, notBefore: seconds.map { now + $0 })
        }
        queue.add([
            entry("ready"), entry("soon", in: 5), entry("later", in: 100), entry("sooner-later", in: 50),
            entry("held", type: "h"), entry("held-later", type: "h", in: 20),
        ])
        queue.setHeldTypes(["h"])
        let within10 = queue.outlook(horizon: now + 10)
        #expect(within10.dueBy == 2)
        #expect(within10.later == 2)
        #expect(within10.earliestLater == now + 50)
        let within1000 = queue.outlook(horizon: now + 1000)
        #expect(within1000.dueBy == 4 && within1000.later == 0 && within1000.earliestLater == nil)
        queue.setHeldTypes([])
        #expect(queue.outlook(horizon: now + 10).dueBy == 3)
        #expect(queue.outlook(horizon: now + 10).earliestLater == now + 20)
    }
}
