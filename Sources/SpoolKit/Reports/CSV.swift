import SpoolSystem

/// CSV as RFC 4180 writes it: fields separated by commas, records by CRLF; a field containing a
/// comma, a double quote, CR or LF is enclosed in double quotes, with each quote doubled.
public enum CSV {
    /// One field, quoted when it must be.
    public static func field(_ text: String) -> String {
        let needsQuotes = text.utf8.contains { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }
        guard needsQuotes else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// One record, with its CRLF.
    public static func record(_ fields: [String]) -> String { fields.map(field).joined(separator: ",") + "\r\n" }

    /// Where the record starting at `start` ends: the index just past its line break (LF or CRLF,
    /// outside quotes), or nil when `bytes` ends first (the record continues in data not read yet).
    static func recordEnd(in bytes: UnsafeBufferPointer<UInt8>, from start: Int, end: Int) -> Int? {
        // The same reading as parseRecord: a quote opens a quoted field only at the field's start
        // (`12" pizza` is a plain field), and inside one a doubled quote is a quote.
        var quoted = false
        var fieldStart = true
        var fieldWasQuoted = false
        var index = start
        while index < end {
            let byte = bytes[index]
            if quoted {
                if byte == 0x22 {
                    guard index + 1 < end else { return nil }  // a doubled quote may go on in the next read
                    if bytes[index + 1] == 0x22 {
                        index += 2
                        continue
                    }
                    quoted = false
                }
            } else if byte == 0x2C {
                fieldStart = true
                fieldWasQuoted = false
            } else if byte == 0x0A {
                return index + 1
            } else if byte == 0x22 && fieldStart && !fieldWasQuoted {
                quoted = true
                fieldWasQuoted = true
                fieldStart = false
            } else {
                fieldStart = false
            }
            index += 1
        }
        return nil
    }

    /// The fields of one complete record (its line break, if any, included in `bytes`). Quotes
    /// are undone; a quote inside an unquoted field is kept as it is (lenient, like most readers).
    public static func parseRecord(_ bytes: some Collection<UInt8>) -> [String] {
        var fields: [String] = []
        var current: [UInt8] = []
        var quoted = false
        var wasQuoted = false
        var iterator = Array(bytes)[...]
        // The record's own line break is not part of its last field.
        if iterator.last == 0x0A { iterator = iterator.dropLast() }
        if iterator.last == 0x0D { iterator = iterator.dropLast() }
        var index = iterator.startIndex
        while index < iterator.endIndex {
            let byte = iterator[index]
            if quoted {
                if byte == 0x22 {
                    if index + 1 < iterator.endIndex && iterator[index + 1] == 0x22 {
                        current.append(0x22)
                        index += 1
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(byte)
                }
            } else if byte == 0x2C {
                fields.append(String(decoding: current, as: UTF8.self))
                current.removeAll(keepingCapacity: true)
                wasQuoted = false
            } else if byte == 0x22 && current.isEmpty && !wasQuoted {
                quoted = true
                wasQuoted = true
            } else {
                current.append(byte)
            }
            index += 1
        }
        fields.append(String(decoding: current, as: UTF8.self))
        return fields
    }
}
