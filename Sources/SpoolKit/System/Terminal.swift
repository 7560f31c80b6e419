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
