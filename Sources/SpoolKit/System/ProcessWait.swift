import Glibc

extension SpawnedProcess {
    /// Waits at most `timeout` seconds for the child to exit and reaps it; nil while it still
    /// runs. Sleeps in poll(2) on the child's pidfd where the kernel has one (so the exit is seen
    /// at once), else looks every millisecond. Blocks the calling thread: call it from a
    /// dedicated thread or the main thread, never from a task.
    package func waitForExit(timeout: Double) -> (ProcessTermination, ProcessUsage)? {
        if let exitDescriptor {
            var request = pollfd(fd: exitDescriptor.rawValue, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(min(max(0, timeout * 1000).rounded(.up), 2_000_000_000))
            // EINTR or a timeout: the reap below says whether it exited all the same.
            _ = poll(&request, 1, milliseconds)
            return reapIfExited()
        }
        let deadline = ProcessInfoLite.monotonicNow() + timeout
        while true {
            if let ended = reapIfExited() { return ended }
            if ProcessInfoLite.monotonicNow() >= deadline { return nil }
            ProcessInfoLite.sleep(seconds: 0.001)
        }
    }

    /// Sends SIGTERM to the child itself (not to its process group): a `spool run` stops its
    /// handlers itself.
    package func terminate() { _ = Glibc.kill(pid, SIGTERM) }
}
