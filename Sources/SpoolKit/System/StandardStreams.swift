import Glibc

// Open-flag constants for files outside System/ that must not import Glibc.
let O_WRONLY_ = O_WRONLY
let O_RDONLY_ = O_RDONLY
let O_RDWR_ = O_RDWR
let O_APPEND_ = O_APPEND
let O_CREAT_ = O_CREAT
let O_NOFOLLOW_ = O_NOFOLLOW
let O_TRUNC_ = O_TRUNC

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
