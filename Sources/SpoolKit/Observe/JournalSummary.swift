import SpoolSystem

/// What `spool stats` takes from the event journal, gathered in one pass over its lines. Only
/// lines that end a job are decoded; the others are scanned and dropped, so a journal of a
/// million lines is read in a fraction of a second.
struct JournalSummary {
    /// The last event that ended each job: which state it said, and the job's type and project.
    struct Ending {
        var state: JobState
        var type: String
        var project: String?
    }

    /// Figures of the attempts of one type that ended their job (done, failed, cancelled).
    struct TypeFigures {
        var done = 0
        var failed = 0
        var cancelled = 0
        var durations: [Double] = []
        var cpuSeconds = 0.0
        var maximumRSS = 0
    }

    var endings: [String: Ending] = [:]
    var figures: [String: TypeFigures] = [:]
    /// Jobs ended (any terminal event) in the last 1, 5 and 60 minutes.
    var endedWithin = [1: 0, 5: 0, 60: 0]
    /// Seconds handlers ran in attempts that ended in the last `utilisationWindow` seconds.
    var busySeconds = 0.0
    /// Processors that ended an attempt within the utilisation window.
    var activeProcessors: Set<String> = []
    static let utilisationWindow = 300.0

    init(journal: EventJournal, now: Double) {
        for day in journal.days() {
            guard let bytes = try? FileSystem.readFile(journal.path(ofDay: day), limit: Int.max) else { continue }
            EventJournal.forEachLine(bytes) { line in add(line, now: now) }
        }
    }

    private static let keyTime = Array("time".utf8), keyID = Array("id".utf8), keyType = Array("type".utf8)
    private static let keyFrom = Array("from".utf8), keyTo = Array("to".utf8), keyDuration = Array("duration".utf8)
    private static let keyProject = Array("project".utf8), keyCPU = Array("cpuSeconds".utf8)
    private static let keyRSS = Array("maxRSS".utf8), keyProcessor = Array("processor".utf8)

    private mutating func add(_ line: ArraySlice<UInt8>, now: Double) {
        line.withUnsafeBufferPointer { buffer in
            var time: Range<Int>?
            var id: Range<Int>?
            var type: Range<Int>?
            var from: Range<Int>?
            var to: Range<Int>?
            var duration: Range<Int>?
            var project: Range<Int>?
            var cpu: Range<Int>?
            var rss: Range<Int>?
            var processor: Range<Int>?
            func key(_ range: Range<Int>, is literal: [UInt8]) -> Bool {
                guard range.count == literal.count else { return false }
                for offset in 0..<literal.count where buffer[range.lowerBound + offset] != literal[offset] {
                    return false
                }
                return true
            }
            let complete = FlatJSONScanner.forEachMember(buffer) { name, value, _ in
                switch name.count {
                case 2: if key(name, is: Self.keyTo) { to = value } else if key(name, is: Self.keyID) { id = value }
                case 4:
                    if key(name, is: Self.keyTime) {
                        time = value
                    } else if key(name, is: Self.keyType) {
                        type = value
                    } else if key(name, is: Self.keyFrom) {
                        from = value
                    }
                case 6: if key(name, is: Self.keyRSS) { rss = value }
                case 7: if key(name, is: Self.keyProject) { project = value }
                case 8: if key(name, is: Self.keyDuration) { duration = value }
                case 9: if key(name, is: Self.keyProcessor) { processor = value }
                case 10: if key(name, is: Self.keyCPU) { cpu = value }
                default: break
                }
            }
            func text(_ range: Range<Int>?) -> String? {
                range.map { String(decoding: UnsafeBufferPointer(rebasing: buffer[$0]), as: UTF8.self) }
            }
            guard complete else {
                // Not what this version writes (escapes, say): the full parser decides.
                if let event = JobEvent(line: line), let state = JobState(rawValue: event.to), state.isTerminal {
                    add(event, state: state, now: now)
                }
                return
            }
            guard let to, let state = Self.terminalState(buffer, to), let id = text(id),
                let time = time.flatMap({ Self.time(buffer, $0) })
            else { return }
            add(
                JobEvent(
                    time: time, id: id, type: text(type) ?? "?", from: text(from), to: state.rawValue,
                    duration: text(duration).flatMap(Double.init), processor: text(processor),
                    project: text(project), cpuSeconds: text(cpu).flatMap(Double.init),
                    maxRSS: text(rss).flatMap { Double($0) }.map { Int($0) }),
                state: state, now: now)
        }
    }

    private mutating func add(_ event: JobEvent, state: JobState, now: Double) {
        endings[event.id] = Ending(state: state, type: event.type, project: event.project)
        for minutes in [1, 5, 60] where event.time >= now - Double(minutes) * 60 { endedWithin[minutes]! += 1 }
        guard event.from == JobState.processing.rawValue else { return }
        if let duration = event.duration, event.time >= now - Self.utilisationWindow {
            busySeconds += min(duration, Self.utilisationWindow)
            if let processor = event.processor { activeProcessors.insert(processor) }
        }
        // In place: a copy taken out of the dictionary would copy its durations on every append.
        Self.count(event, state: state, into: &figures[event.type, default: TypeFigures()])
    }

    private static func count(_ event: JobEvent, state: JobState, into entry: inout TypeFigures) {
        switch state {
        case .done: entry.done += 1
        case .failed: entry.failed += 1
        default: entry.cancelled += 1
        }
        if let duration = event.duration { entry.durations.append(duration) }
        entry.cpuSeconds += event.cpuSeconds ?? 0
        entry.maximumRSS = max(entry.maximumRSS, event.maxRSS ?? 0)
    }

    /// `done`, `failed` or `cancelled` from a `to` value, without making a string.
    private static func terminalState(_ buffer: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> JobState? {
        switch (range.count, buffer[range.lowerBound]) {
        case (4, 100): return .done  // d
        case (6, 102): return .failed  // f
        case (9, 99): return .cancelled  // c
        default: return nil
        }
    }

    /// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS.mmmZ` (the journal's form), computed
    /// directly; any other form goes through `Timestamp.parse`.
    static func time(_ buffer: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Double? {
        let base = range.lowerBound
        func digits(_ offset: Int, _ count: Int) -> Int? {
            var value = 0
            for position in (base + offset)..<(base + offset + count) {
                let byte = buffer[position]
                guard byte >= 48 && byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard range.count == 24, buffer[base + 23] == 90, let year = digits(0, 4), let month = digits(5, 2),
            let day = digits(8, 2), let hour = digits(11, 2), let minute = digits(14, 2), let second = digits(17, 2),
            let milliseconds = digits(20, 3), (1...12).contains(month)
        else {
            return Timestamp.parse(String(decoding: UnsafeBufferPointer(rebasing: buffer[range]), as: UTF8.self))
        }
        // Days from the civil date (Howard Hinnant's algorithm).
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return Double(days * 86_400 + hour * 3600 + minute * 60 + second) + Double(milliseconds) / 1000
    }
}
