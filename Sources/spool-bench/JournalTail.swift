import SpoolJSON
import SpoolKit
import SpoolSystem
import Synchronization

/// Reads what a spool's event journal (`events/*.ndjson`) gained since the tail was made: the
/// benchmark's view of when jobs were claimed and finished, written by the processor itself
/// with millisecond timestamps. Only complete lines are returned; a line still being written
/// is read on a later call. Safe to use from one thread at a time (a lock guards the offsets).
final class JournalTail: Sendable {
    let eventsDirectory: String
    /// Bytes of each day file already read.
    private let offsets: Mutex<[String: Int]>

    /// A tail that starts at the journal's present end: only later lines are read.
    init(spoolRoot: String) {
        eventsDirectory = spoolRoot + "/events"
        var sizes: [String: Int] = [:]
        for file in Self.dayFiles(eventsDirectory) {
            sizes[file] = FixtureFiles.size(eventsDirectory + "/" + file)
        }
        offsets = Mutex(sizes)
    }

    /// The lines appended since the last call (each without its newline), oldest day first.
    func newLines() -> [ArraySlice<UInt8>] {
        offsets.withLock { offsets in
            var lines: [ArraySlice<UInt8>] = []
            for file in Self.dayFiles(eventsDirectory) {
                let path = eventsDirectory + "/" + file
                var offset = offsets[file] ?? 0
                let size = FixtureFiles.size(path)
                while offset < size {
                    let bytes = FixtureFiles.read(path, from: offset, maximum: min(size - offset, 16 << 20))
                    guard let lastNewline = bytes.lastIndex(of: 10) else { break }
                    var start = 0
                    for index in 0...lastNewline where bytes[index] == 10 {
                        if index > start { lines.append(bytes[start..<index]) }
                        start = index + 1
                    }
                    offset += lastNewline + 1
                }
                offsets[file] = offset
            }
            return lines
        }
    }

    /// The events appended since the last call that match `to` (and `from`, when given).
    func newEvents(to: String, from: String? = nil) -> [JobEvent] {
        newLines().compactMap { line -> JobEvent? in
            guard let event = JobEvent(line: line), event.to == to, from == nil || event.from == from else {
                return nil
            }
            return event
        }
    }

    /// How many lines appended since the last call contain `text` (a cheap look, no parsing).
    func countNewLines(containing text: String) -> Int {
        let pattern = Array(text.utf8)
        return newLines().reduce(0) { count, line in count + (Self.contains(line, pattern) ? 1 : 0) }
    }

    private static func contains(_ line: ArraySlice<UInt8>, _ pattern: [UInt8]) -> Bool {
        guard line.count >= pattern.count, let first = pattern.first else { return false }
        var index = line.startIndex
        let last = line.endIndex - pattern.count
        while index <= last {
            if line[index] == first && line[index..<(index + pattern.count)].elementsEqual(pattern) { return true }
            index += 1
        }
        return false
    }

    private static func dayFiles(_ directory: String) -> [String] {
        ((try? FileSystem.listDirectory(directory)) ?? []).compactMap(\.name).filter { $0.hasSuffix(".ndjson") }
            .sorted()
    }
}
