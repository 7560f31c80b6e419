import Glibc

/// Wall-clock timestamps in the spool's one format: ISO 8601, UTC, milliseconds
/// (`2026-11-22T14:20:42.123Z`). Formatting by hand: `ISO8601DateFormatter` is not Sendable and
/// costs microseconds per call on the hot path.
public enum Timestamp {
    /// Formats seconds since the epoch.
    public static func format(_ seconds: Double) -> String {
        // Round to whole milliseconds first: the fraction of a Double is rarely exact.
        let totalMilliseconds = Int64((seconds * 1000).rounded())
        var whole = time_t(totalMilliseconds / 1000)
        let milliseconds = Int(totalMilliseconds % 1000)
        var parts = tm()
        gmtime_r(&whole, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(milliseconds), 3))Z"
    }

    /// The current time, formatted.
    public static func now() -> String { format(ProcessInfoLite.now()) }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; nil when it is not such a timestamp.
    public static func parse(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20 else { return nil }
        func number(_ start: Int, _ length: Int) -> Int32? {
            guard start + length <= bytes.count else { return nil }
            var value: Int32 = 0
            for byte in bytes[start..<(start + length)] {
                guard byte >= 48 && byte <= 57 else { return nil }
                value = value * 10 + Int32(byte - 48)
            }
            return value
        }
        guard let year = number(0, 4), bytes[4] == 45, let month = number(5, 2), bytes[7] == 45,
            let day = number(8, 2), bytes[10] == 84 || bytes[10] == 32, let hour = number(11, 2),
            bytes[13] == 58, let minute = number(14, 2), bytes[16] == 58, let second = number(17, 2)
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < bytes.count, bytes[index] == 46 {
            index += 1
            var scale = 0.1
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offsetSeconds = 0
        guard index < bytes.count else { return nil }
        if bytes[index] == 90 {
            index += 1
        } else if bytes[index] == 43 || bytes[index] == 45, let hours = number(index + 1, 2),
            bytes.count > index + 3, bytes[index + 3] == 58, let minutes = number(index + 4, 2)
        {
            offsetSeconds = (Int(hours) * 3600 + Int(minutes) * 60) * (bytes[index] == 45 ? -1 : 1)
            index += 6
        } else {
            return nil
        }
        guard index == bytes.count, (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60,
            second < 61
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        let seconds = timegm(&parts)
        return Double(seconds) - Double(offsetSeconds) + fraction
    }
}
