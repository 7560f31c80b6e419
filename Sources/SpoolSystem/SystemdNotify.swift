import Glibc

/// The systemd notification protocol (sd_notify(3)) without libsystemd: datagrams of
/// `KEY=VALUE` lines sent to the AF_UNIX socket named by `$NOTIFY_SOCKET` (a name starting
/// with `@` is in the abstract namespace). Without `$NOTIFY_SOCKET` every call does nothing.
public final class SystemdNotify: Sendable {
    private let socketPath: [UInt8]
    private let descriptor: FileDescriptor
    /// Half of `$WATCHDOG_USEC` in seconds (when it is set for this process): how often to ping.
    public let watchdogInterval: Double?

    /// Nil when `$NOTIFY_SOCKET` is unset or unusable (reported on stderr).
    public init?() {
        guard let name = environmentValue("NOTIFY_SOCKET"), !name.isEmpty else { return nil }
        var path = Array(name.utf8)
        if path[0] == UInt8(ascii: "@") { path[0] = 0 }
        guard path.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            Diagnostics.warn("NOTIFY_SOCKET is too long for a socket address; not notifying systemd")
            return nil
        }
        let fd = retryingInterrupts { socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        guard case .success(let raw) = fd else {
            Diagnostics.warn("could not make a socket to notify systemd")
            return nil
        }
        socketPath = path
        descriptor = FileDescriptor(rawValue: raw)
        // WATCHDOG_PID, when set, must name this process (sd_watchdog_enabled(3)).
        let pidMatches = environmentValue("WATCHDOG_PID").map { Int32($0) == getpid() } ?? true
        if pidMatches, let microseconds = environmentValue("WATCHDOG_USEC").flatMap(Double.init), microseconds > 0 {
            watchdogInterval = microseconds / 2_000_000
        } else {
            watchdogInterval = nil
        }
    }

    deinit { descriptor.close() }

    /// Sends one datagram (sendto(2)); failures are reported on stderr, never thrown: systemd
    /// not listening must not stop the processor.
    public func send(_ lines: [String]) {
        let message = Array(lines.joined(separator: "\n").utf8)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in socketPath.enumerated() { raw[index] = byte }
        }
        // An abstract name's length is exact (no terminating NUL); a path's includes the NUL.
        let length = MemoryLayout<sa_family_t>.size + socketPath.count + (socketPath[0] == 0 ? 0 : 1)
        let result = message.withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                    retryingInterrupts {
                        sendto(descriptor.rawValue, bytes.baseAddress, bytes.count, 0, socketAddress, socklen_t(length))
                    }
                }
            }
        }
        if case .failure(let code) = result {
            Diagnostics.warn("could not notify systemd: \(SystemError("send to", path: "NOTIFY_SOCKET", code: code))")
        }
    }
}
