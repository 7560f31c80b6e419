import SpoolKit
import SpoolSystem

/// Standard output and error for commands: the one place every command's text goes through.
/// On a terminal, control characters in it (a submitter's payload, a handler's output) are made
/// visible (`TerminalText`); into a pipe or a file it is written byte for byte.
enum Output {
    static func line(_ text: String = "") {
        StandardStreams.writeOutput((isTerminal ? TerminalText.visible(text) : text) + "\n")
    }
    static func error(_ text: String) {
        StandardStreams.writeError((errorIsTerminal ? TerminalText.visible(text) : text) + "\n")
    }
    /// Whether standard output is a terminal (asked once).
    static let isTerminal = StandardStreams.isTerminal(1)
    static let errorIsTerminal = StandardStreams.isTerminal(2)
}

/// A job's own bytes (its result, its log) streamed to standard output: as they are into a pipe
/// or a file (a result may be binary), with control characters and invalid UTF-8 made visible on
/// a terminal. `finish` ends the stream.
struct JobBytesOutput {
    private var escaper: TerminalText? = Output.isTerminal ? TerminalText() : nil

    mutating func write(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        StandardStreams.write(1, escaper?.visible(bytes) ?? bytes)
    }

    mutating func finish() {
        if let rest = escaper?.finish(), !rest.isEmpty { StandardStreams.write(1, rest) }
    }
}

/// Environment lookups.
enum Environment {
    static func value(_ name: String) -> String? { SpoolSystem.environmentValue(name) }
}
