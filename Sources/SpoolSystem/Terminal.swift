import Glibc

/// The controlling terminal of a full-screen view: raw key input and its restoration.
public final class TerminalMode {
    private let descriptor: Int32
    private var saved = termios()
    private var active = false

    /// Switches standard input to raw keys (no line buffering, no echo, no signal keys: Ctrl-C
    /// arrives as byte 3 so that the view can restore the terminal itself). Nil when standard
    /// input is not a terminal.
    public init?(descriptor: Int32 = 0) {
        self.descriptor = descriptor
        guard isatty(descriptor) == 1, tcgetattr(descriptor, &saved) == 0 else { return nil }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG)
        guard case .success = retryingInterrupts({ tcsetattr(descriptor, TCSANOW, &raw) }) else { return nil }
        active = true
    }

    /// Puts the terminal back as it was (idempotent).
    public func restore() {
        guard active else { return }
        active = false
        _ = retryingInterrupts { tcsetattr(descriptor, TCSANOW, &saved) }
    }

    deinit { restore() }

    /// Bytes typed so far, without blocking (empty when none).
    public func readKeys() -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 64)
        var waiting = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&waiting, 1, 0) > 0 else { return [] }
        let count = buffer.withUnsafeMutableBytes { raw in
            retryingInterrupts { read(descriptor, raw.baseAddress, raw.count) }
        }
        guard case .success(let read) = count, read > 0 else { return [4] }  // end of input: as Ctrl-D
        return Array(buffer[0..<read])
    }

    /// The terminal's size from `$COLUMNS` / `$LINES`, else 80 × 24.
    public static var size: (columns: Int, lines: Int) {
        (environmentValue("COLUMNS").flatMap(Int.init) ?? 80, environmentValue("LINES").flatMap(Int.init) ?? 24)
    }
}

/// Text made safe to show on a terminal: what a submitter put in a job or a handler wrote to its
/// standard error or output must not drive the terminal (clear it, retitle it, move the cursor,
/// answer back). Each control character other than newline and tab — C0 (U+0000–U+001F), DEL
/// (U+007F) and C1 (U+0080–U+009F) — becomes `\u00XX`, its code point as JSON writes it; each
/// byte that is not part of valid UTF-8 becomes `\xXX`. Everything else, backslashes included,
/// is left as it is. Used only when the output is a terminal: into a pipe or a file the CLI
/// writes the bytes as they are.
///
/// It works on a stream: a character whose bytes are cut between two chunks is held back until
/// the next chunk, or until `finish`.
public struct TerminalText: Sendable {
    /// The start of a UTF-8 sequence that the last chunk ended in the middle of (at most 3 bytes).
    private var pending: [UInt8] = []

    public init() {}

    /// `text` with its control characters made visible; `text` itself when it has none.
    public static func visible(_ text: String) -> String {
        guard text.utf8.contains(where: { isControl($0) || $0 == 0xC2 }) else { return text }
        var escaper = TerminalText()
        return String(decoding: escaper.visible(text.utf8) + escaper.finish(), as: UTF8.self)
    }

    /// The next chunk of a stream, with its control characters and invalid bytes made visible.
    public mutating func visible(_ chunk: some Collection<UInt8>) -> [UInt8] {
        let input = pending + chunk
        pending = []
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte < 0x80 {
                if Self.isControl(byte) { Self.append("\\u00", byte, to: &output) } else { output.append(byte) }
                index += 1
                continue
            }
            switch Self.sequenceLength(input, at: index) {
            case nil:
                Self.append("\\x", byte, to: &output)
                index += 1
            case 0:
                pending = Array(input[index...])
                return output
            case let length?:
                if byte == 0xC2 && input[index + 1] <= 0x9F {
                    Self.append("\\u00", input[index + 1], to: &output)
                } else {
                    output.append(contentsOf: input[index..<index + length])
                }
                index += length
            }
        }
        return output
    }

    /// The end of the stream: a character left incomplete is shown byte by byte, as invalid.
    public mutating func finish() -> [UInt8] {
        var output: [UInt8] = []
        for byte in pending { Self.append("\\x", byte, to: &output) }
        pending = []
        return output
    }

    /// C0 controls but newline and tab, and DEL.
    private static func isControl(_ byte: UInt8) -> Bool {
        (byte < 0x20 && byte != 0x0A && byte != 0x09) || byte == 0x7F
    }

    private static func append(_ prefix: String, _ byte: UInt8, to output: inout [UInt8]) {
        output.append(contentsOf: prefix.utf8)
        output.append(contentsOf: String(hexDigitsOf: byte).utf8)
    }

    /// The length of the valid UTF-8 sequence that starts at `index` with a byte of 0x80 or more:
    /// nil when it is invalid there, 0 when the input ends before it does (still valid so far).
    private static func sequenceLength(_ input: [UInt8], at index: Int) -> Int? {
        let lead = input[index]
        let length: Int
        var second: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: (length, second) = (3, 0xA0...0xBF)
        case 0xED: (length, second) = (3, 0x80...0x9F)
        case 0xE1...0xEF: length = 3
        case 0xF0: (length, second) = (4, 0x90...0xBF)
        case 0xF4: (length, second) = (4, 0x80...0x8F)
        case 0xF1...0xF3: length = 4
        default: return nil
        }
        for offset in 1..<length {
            guard index + offset < input.count else { return 0 }
            guard (offset == 1 ? second : 0x80...0xBF).contains(input[index + offset]) else { return nil }
        }
        return length
    }
}
