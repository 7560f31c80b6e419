import Glibc

/// Writes to the standard streams with write(2): Glibc's `stderr` global is not usable from
/// Swift 6, and FileHandle buffers nothing we need.
public enum StandardStreams {
    public static func writeOutput(_ text: String) { write(1, Array(text.utf8)) }
    public static func writeError(_ text: String) { write(2, Array(text.utf8)) }

    public static func write(_ descriptor: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    /// Whether a descriptor is a terminal.
    public static func isTerminal(_ descriptor: Int32) -> Bool { isatty(descriptor) == 1 }
}
