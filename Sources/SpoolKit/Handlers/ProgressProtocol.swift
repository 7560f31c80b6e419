/// The one-line progress protocol a handler speaks on descriptor 3 (`$SPOOL_PROGRESS_FD`):
///
///     progress 40        # percent done, 0-100 (a decimal is rounded down)
///
/// Lines end with a newline; unknown lines are logged and ignored.
public enum ProgressMessage: Sendable, Equatable {
    case progress(Int)
    case unknown(String)

    public static func parse(_ line: String) -> ProgressMessage? {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
        guard let keyword = words.first else { return nil }
        if keyword == "progress", words.count == 2, let value = Double(words[1]), value.isFinite {
            return .progress(Int(min(100, max(0, value))))
        }
        return .unknown(String(line.prefix(200)))
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
