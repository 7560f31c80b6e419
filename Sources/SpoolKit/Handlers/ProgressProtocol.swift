import SpoolJSON
import SpoolSystem

/// The one-line progress protocol a handler speaks on descriptor 3 (`$SPOOL_PROGRESS_FD`):
///
///     progress 40                             # percent done, 0-100 (a decimal is rounded down)
///     processed 400 succeeded 395 failed 5    # record counts so far (any of total, processed,
///                                             # succeeded, failed, in any order)
///     error [low|medium|high|critical] TEXT   # what went wrong, should the attempt fail: the
///                                             # record's `error` says it (and `errorSeverity`)
///
/// Lines end with a newline; unknown lines are logged and ignored. Record counts are kept in the
/// job's `records`; a child batch job's add up in its parent's.
public enum ProgressMessage: Sendable, Equatable {
    case progress(Int)
    case records(RecordCounts)
    /// The handler's own account of a failure, with its severity (nil: none given).
    case error(message: String, severity: String?)
    case unknown(String)

    /// The severities an `error` line may name first (the seeds' levels).
    public static let severities = ["low", "medium", "high", "critical"]

    public static func parse(_ line: String) -> ProgressMessage? {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
        guard let keyword = words.first else { return nil }
        if keyword == "progress", words.count == 2, let value = Double(words[1]), value.isFinite {
            return .progress(Int(min(100, max(0, value))))
        }
        if keyword == "error", words.count >= 2 {
            var rest = line.drop { $0 == " " || $0 == "\t" }.dropFirst("error".count).drop { $0 == " " || $0 == "\t" }
            var severity: String?
            if let first = words.dropFirst().first, severities.contains(String(first)), words.count >= 3 {
                severity = String(first)
                rest = rest.dropFirst(first.count).drop { $0 == " " || $0 == "\t" }
            }
            let message = String(rest.prefix(1000)).trimmingTrailingWhitespace()
            return message.isEmpty ? .unknown(String(line.prefix(200))) : .error(message: message, severity: severity)
        }
        if words.count % 2 == 0, RecordCounts.names.contains(String(keyword)) {
            var counts = RecordCounts()
            for pair in stride(from: 0, to: words.count, by: 2) {
                guard let value = Int(words[pair + 1]), value >= 0,
                    counts.set(String(words[pair]), value)
                else { return .unknown(String(line.prefix(200))) }
            }
            return .records(counts)
        }
        return .unknown(String(line.prefix(200)))
    }
}

/// Record counts a handler reports: how many of its items it has processed, and how many of
/// those succeeded or failed. Fields not reported stay nil (and keep their earlier value).
public struct RecordCounts: Sendable, Equatable {
    static let names = ["total", "processed", "succeeded", "failed"]
    public var total: Int?
    public var processed: Int?
    public var succeeded: Int?
    public var failed: Int?

    public init(total: Int? = nil, processed: Int? = nil, succeeded: Int? = nil, failed: Int? = nil) {
        self.total = total
        self.processed = processed
        self.succeeded = succeeded
        self.failed = failed
    }

    mutating func set(_ name: String, _ value: Int) -> Bool {
        switch name {
        case "total": total = value
        case "processed": processed = value
        case "succeeded": succeeded = value
        case "failed": failed = value
        default: return false
        }
        return true
    }

    /// The record's `records` object updated with these counts.
    func merged(into existing: JSONValue?) -> JSONValue {
        var object = existing?.objectValue ?? JSONObject()
        for (name, value) in [("total", total), ("processed", processed), ("succeeded", succeeded), ("failed", failed)]
        {
            if let value { object[name] = JSONValue(value) }
        }
        return .object(object)
    }
}

/// Splits a byte stream into lines, keeping an incomplete last line for the next chunk.
struct LineSplitter {
    private var pending: [UInt8] = []
    private let maximumLineLength = 4096

    mutating func feed(_ bytes: ArraySlice<UInt8>) -> [String] {
        var lines: [String] = []
        for byte in bytes {
            if byte == 0x0A {
                lines.append(String(decoding: pending, as: UTF8.self))
                pending.removeAll(keepingCapacity: true)
            } else if pending.count < maximumLineLength {
                pending.append(byte)
            }
        }
        return lines
    }

    /// The incomplete last line, if any, emptying the buffer.
    mutating func remainder() -> String? {
        guard !pending.isEmpty else { return nil }
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }
}

extension String {
    fileprivate func trimmingTrailingWhitespace() -> String {
        var result = self
        while let last = result.last, last == " " || last == "\t" || last == "\r" { result.removeLast() }
        return result
    }
}
