import SpoolKit

/// Standard output and error for commands.
enum Output {
    static func line(_ text: String = "") { StandardStreams.writeOutput(text + "\n") }
    static func error(_ text: String) { StandardStreams.writeError(text + "\n") }
    static var isTerminal: Bool { StandardStreams.isTerminal(1) }
}

/// Environment lookups.
enum Environment {
    static func value(_ name: String) -> String? { SpoolKit.environmentValue(name) }
}
