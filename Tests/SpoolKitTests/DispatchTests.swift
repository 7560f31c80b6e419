import SpoolSystem
import Testing

@testable import SpoolKit

@Suite("Dispatch index and system decoding")
struct DispatchTests {
    func entry(_ id: String, _ type: String = "t", priority: Int = 0, arrival: Int64, notBefore: Double? = nil)
        -> IndexEntry
    {
        IndexEntry(id: id, type: type, priority: priority, arrival: arrival, notBefore: notBefore)
    }

    @Test("priority first, then arrival; duplicates ignored")
    func order() {
        var index = JobIndex()
        index.insert(entry("late-normal", arrival: 30), now: 0)
        index.insert(entry("early-normal", arrival: 10), now: 0)
        index.insert(entry("high", priority: 10, arrival: 50), now: 0)
        index.insert(entry("low", priority: -10, arrival: 1), now: 0)
        let insertedTwice = index.insert(entry("high", priority: 10, arrival: 99), now: 0)
        #expect(!insertedTwice)
        var order: [String] = []
        while let next = index.removeNext(where: { _ in true }) { order.append(next.id) }
        #expect(order == ["high", "early-normal", "late-normal", "low"])
        #expect(index.isEmpty)
    }

    @Test("a type at its limit does not block other types; delayed jobs wait for their time")
    func eligibilityAndDelay() {
        var index = JobIndex()
        index.insert(entry("a1", "a", priority: 5, arrival: 1), now: 100)
        index.insert(entry("b1", "b", arrival: 2), now: 100)
        index.insert(entry("later", "b", priority: 50, arrival: 0, notBefore: 200), now: 100)
        #expect(index.removeNext(where: { $0 != "a" })?.id == "b1")
        #expect(index.removeNext(where: { $0 != "a" }) == nil)
        #expect(index.nextDueTime == 200)
        index.promoteDue(now: 150)
        #expect(index.removeNext(where: { _ in true })?.id == "a1")
        index.promoteDue(now: 200)
        #expect(index.removeNext(where: { _ in true })?.id == "later")
    }

    @Test("taking the next job does not slow down as the queue grows")
    func scalesLogarithmically() {
        // Counts heap comparisons indirectly: 100,000 inserts and removals finish in well under
        // a second even in a debug build only if each is O(log n). (A correctness check of the
        // order over many random entries, not a timing assertion.)
        var index = JobIndex()
        var generator = SystemRandomNumberGenerator()
        for number in 0..<100_000 {
            index.insert(
                entry("j\(number)", priority: Int.random(in: -3...3, using: &generator), arrival: Int64(number)), now: 0
            )
        }
        var previous: IndexEntry?
        while let next = index.removeNext(where: { _ in true }) {
            if let previous { #expect(!IndexEntry.runsBefore(next, previous)) }
            previous = next
        }
    }

    @Test("wait statuses decode into exits and signals")
    func waitStatus() {
        #expect(ProcessTermination(waitStatus: 0) == .exited(0))
        #expect(ProcessTermination(waitStatus: 75 << 8) == .exited(75))
        #expect(ProcessTermination(waitStatus: 9) == .signalled(9))
        #expect(ProcessTermination(waitStatus: 11 | 0x80) == .signalled(11))  // core dumped
        #expect(ProcessTermination.signalled(11).description == "killed by SIGSEGV")
    }

    @Test("inotify records decode with bounds checks")
    func inotifyDecoding() {
        func record(_ watch: Int32, _ mask: UInt32, _ name: String, padTo length: Int) -> [UInt8] {
            var bytes: [UInt8] = []
            withUnsafeBytes(of: watch.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: mask.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: UInt32(0)) { bytes += $0 }
            withUnsafeBytes(of: UInt32(length).littleEndian) { bytes += $0 }
            var nameBytes = Array(name.utf8)
            nameBytes += [UInt8](repeating: 0, count: length - nameBytes.count)
            return bytes + nameBytes
        }
        let buffer =
            record(1, 0x80, "a.json", padTo: 16) + record(-1, 0x4000, "", padTo: 0)
            + Array(record(1, 0x80, "cut.json", padTo: 16).prefix(20))
        var events: [InotifyEvent] = []
        Inotify.decode(buffer[...], into: &events)
        #expect(events.count == 2)
        #expect(events[0].rawName == Array("a.json".utf8))
        #expect(events[1].isOverflow)
    }

    @Test("progress lines")
    func progressLines() {
        #expect(ProgressMessage.parse("progress 40") == .progress(40))
        #expect(ProgressMessage.parse("progress 99.9") == .progress(99))
        #expect(ProgressMessage.parse("progress 250") == .progress(100))
        #expect(ProgressMessage.parse("hello") == .unknown("hello"))
        #expect(ProgressMessage.parse("") == nil)
        var splitter = LineSplitter()
        let first = splitter.feed(Array("progress 1\nprog".utf8)[...])
        let second = splitter.feed(Array("ress 2\n".utf8)[...])
        #expect(first == ["progress 1"])
        #expect(second == ["progress 2"])
    }

    @Test("printable names escape what is not text")
    func printableNames() {
        #expect(DirectoryEntry.printable(Array("a\nb".utf8) + [0xFF]) == "a\\x0ab\\xff")
    }
}
