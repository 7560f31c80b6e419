import SpoolJSON
import SpoolSystem

/// One change of state of one job, as the event journal records it: a line of NDJSON with the
/// keys `time`, `id`, `type`, `from`, `to`, `attempt`, `duration`, `exit`, `processor`, and,
/// when known, `project`, `cpuSeconds` and `maxRSS` (bytes). `from` is absent for a submission.
public struct JobEvent: Sendable, Equatable {
    /// Seconds since the epoch.
    public var time: Double
    public var id: String
    public var type: String
    public var from: String?
    public var to: String
    public var attempt: Int?
    /// Seconds the attempt that ended with this change ran (moves out of `processing/` only).
    public var duration: Double?
    public var exit: Int?
    public var processor: String?
    public var project: String?
    public var cpuSeconds: Double?
    public var maxRSS: Int?

    public init(
        time: Double, id: String, type: String, from: String?, to: String, attempt: Int? = nil,
        duration: Double? = nil, exit: Int? = nil, processor: String? = nil, project: String? = nil,
        cpuSeconds: Double? = nil, maxRSS: Int? = nil
    ) {
        self.time = time
        self.id = id
        self.type = type
        self.from = from
        self.to = to
        self.attempt = attempt
        self.duration = duration
        self.exit = exit
        self.processor = processor
        self.project = project
        self.cpuSeconds = cpuSeconds
        self.maxRSS = maxRSS
    }

    /// The event of a move from `from` to `to` of a job with this record. Outcome fields
    /// (duration, exit, resources) belong only to moves that end an attempt.
    init(id: String, record: JobRecord, from: JobState?, to: JobState, processor: String?) {
        let endsAttempt = from == .processing && to != .processing
        self.init(
            time: ProcessInfoLite.now(), id: id, type: record.type.isEmpty ? "?" : record.type,
            from: from?.rawValue, to: to.rawValue,
            attempt: record.attempts > 0 ? record.attempts : nil,
            duration: endsAttempt ? record.fields["durationSeconds"]?.doubleValue : nil,
            exit: endsAttempt ? record.fields["exitCode"]?.intValue : nil,
            processor: processor ?? record.processorName, project: record.fields["project"]?.stringValue,
            cpuSeconds: endsAttempt ? record.fields["cpuSeconds"]?.doubleValue : nil,
            maxRSS: endsAttempt ? record.fields["maxRSS"]?.intValue : nil)
    }

    /// Whether this change ends a job (in done/, failed/ or cancelled/).
    public var isTerminal: Bool { to == "done" || to == "failed" || to == "cancelled" }

    public var jsonValue: JSONValue {
        var object = JSONObject([
            ("time", .string(Timestamp.format(time))), ("id", .string(id)), ("type", .string(type)),
        ])
        if let from { object["from"] = .string(from) }
        object["to"] = .string(to)
        if let attempt { object["attempt"] = JSONValue(attempt) }
        if let duration { object["duration"] = JSONValue(duration) }
        if let exit { object["exit"] = JSONValue(exit) }
        if let processor { object["processor"] = .string(processor) }
        if let project { object["project"] = .string(project) }
        if let cpuSeconds { object["cpuSeconds"] = JSONValue(Double(Int(cpuSeconds * 1000)) / 1000) }
        if let maxRSS { object["maxRSS"] = JSONValue(maxRSS) }
        return .object(object)
    }

    /// The journal line, newline included.
    public func line() -> [UInt8] { JSONWriter.write(jsonValue, pretty: false) + [10] }

    /// Parses a journal line; nil for a line that is not an event (damaged, or cut by a crash).
    public init?(line: some Collection<UInt8>) {
        let bytes = Array(line)
        // Lines this version writes are flat objects: read them with a scanner, far cheaper than
        // a full parse over a large journal. Anything unusual goes through the real parser.
        if let fields = FlatJSONScanner.scan(bytes) {
            self.init(fields: { fields[$0] })
        } else if let value = try? JSONParser.parse(bytes), let object = value.objectValue {
            self.init(fields: { key in
                guard let member = object[key] else { return nil }
                if let text = member.stringValue { return .text(text) }
                if case .number(let digits) = member { return .number(digits) }
                return nil
            })
        } else {
            return nil
        }
    }

    private init?(fields: (String) -> FlatJSONScanner.Scalar?) {
        guard case .text(let timeText) = fields("time"), let time = Timestamp.parse(timeText),
            case .text(let id) = fields("id"), case .text(let to) = fields("to")
        else { return nil }
        func text(_ key: String) -> String? {
            if case .text(let value) = fields(key) { return value }
            return nil
        }
        func number(_ key: String) -> Double? {
            if case .number(let value) = fields(key) { return Double(value) }
            return nil
        }
        self.init(
            time: time, id: id, type: text("type") ?? "?", from: text("from"), to: to,
            attempt: number("attempt").map { Int($0) }, duration: number("duration"),
            exit: number("exit").map { Int($0) },
            processor: text("processor"), project: text("project"), cpuSeconds: number("cpuSeconds"),
            maxRSS: number("maxRSS").map { Int($0) })
    }
}

/// Reads a flat JSON object of strings without escapes, numbers and null: what the journal
/// writes. Anything else is refused, and callers hand it to the full parser.
enum FlatJSONScanner {
    enum Scalar: Equatable {
        case text(String)
        case number(String)
    }

    static func scan(_ bytes: [UInt8]) -> [String: Scalar]? {
        bytes.withUnsafeBufferPointer { buffer -> [String: Scalar]? in
            var result: [String: Scalar] = [:]
            let complete = forEachMember(buffer) { key, value, isText in
                let text = String(decoding: UnsafeBufferPointer(rebasing: buffer[value]), as: UTF8.self)
                let name = String(decoding: UnsafeBufferPointer(rebasing: buffer[key]), as: UTF8.self)
                result[name] = isText ? .text(text) : .number(text)
            }
            return complete ? result : nil
        }
    }

    /// Calls `body` with the byte ranges of each member's key and value (a string's without
    /// its quotes; `null` members are skipped) and whether the value is a string. Returns false,
    /// part way perhaps, when the bytes are not such an object.
    static func forEachMember(
        _ buffer: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>, Range<Int>, Bool) -> Void
    ) -> Bool {
        var index = 0
        let end = buffer.count
        func skipSpace() { while index < end, buffer[index] == 32 || buffer[index] == 9 { index += 1 } }
        func string() -> Range<Int>? {
            guard index < end, buffer[index] == 34 else { return nil }
            let start = index + 1
            var cursor = start
            while cursor < end, buffer[cursor] != 34 {
                if buffer[cursor] == 92 || buffer[cursor] < 32 { return nil }
                cursor += 1
            }
            guard cursor < end else { return nil }
            index = cursor + 1
            return start..<cursor
        }
        skipSpace()
        guard index < end, buffer[index] == 123 else { return false }
        index += 1
        skipSpace()
        if index < end, buffer[index] == 125 { return true }
        while true {
            skipSpace()
            guard let key = string() else { return false }
            skipSpace()
            guard index < end, buffer[index] == 58 else { return false }
            index += 1
            skipSpace()
            guard index < end else { return false }
            if buffer[index] == 34 {
                guard let value = string() else { return false }
                body(key, value, true)
            } else {
                let start = index
                while index < end, buffer[index] != 44, buffer[index] != 125, buffer[index] != 32 { index += 1 }
                let isNull = index - start == 4 && buffer[start] == 110
                if !isNull {
                    for position in start..<index {
                        let byte = buffer[position]
                        // Digits, sign, point, exponent: a number, checked again where it is used.
                        guard
                            (48...57).contains(byte) || byte == 45 || byte == 43 || byte == 46 || byte == 101
                                || byte == 69
                        else { return false }
                    }
                    guard index > start else { return false }
                    body(key, start..<index, false)
                }
            }
            skipSpace()
            guard index < end else { return false }
            if buffer[index] == 125 { return true }
            guard buffer[index] == 44 else { return false }
            index += 1
        }
    }
}
