/// Messages from the processor (or a command) to its own standard error, one line each.
public enum Diagnostics {
    public static func warn(_ message: String) { StandardStreams.writeError("spool: " + message + "\n") }
    public static func info(_ message: String) { StandardStreams.writeError("spool: " + message + "\n") }
}
