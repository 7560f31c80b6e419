import Synchronization

/// What makes staging names unique without asking the kernel for randomness each time.
package enum TemporaryNames {
    /// `PID-STARTMICROS`: unique among processes on this host, even after a pid is reused.
    package static let processPrefix = "\(ProcessInfoLite.currentProcessID)-\(Int64(ProcessInfoLite.now() * 1_000_000))"
    /// Safe to share: an atomic counter, one increment per name.
    package static let counter = Atomic<Int>(0)
}
