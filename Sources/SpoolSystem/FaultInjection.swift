import Glibc

/// A test seam for storage errors: `SPOOL_INJECT_FAULTS="fsync:/done,rename:/results"` makes
/// every fsync(2) (or rename(2), write(2)) of a path containing the text after the colon fail
/// with EIO, as a failing disk would. Read once at start; empty (no faults) in normal use.
///
/// It also kills the process at a chosen instant, as `kill -9` would: `kill-before-write:PART`,
/// `kill-before-lock:PART` (a flock), `kill-before-rename:PART` and `kill-after-rename:PART` (a
/// rename, matched against `SOURCE -> TARGET`; after: once it is done) send this process
/// SIGKILL there, so that a test can see what a processor killed at that instant leaves behind.
package enum FaultInjection {
    // A `let` read once before any thread starts: immutable afterwards, safe to share.
    package static let rules: [(operation: String, pathPart: String)] = {
        guard let text = getenv("SPOOL_INJECT_FAULTS").map({ String(cString: $0) }), !text.isEmpty else { return [] }
        return text.split(separator: ",").compactMap { rule in
            let parts = rule.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            return (String(parts[0]), String(parts[1]))
        }
    }()

    /// Throws EIO when a rule matches this call.
    package static func check(_ operation: String, path: String?) throws(SystemError) {
        guard !rules.isEmpty, let path else { return }
        if rules.contains(where: { $0.operation == operation && path.contains($0.pathPart) }) {
            throw SystemError(operation, path: path, code: EIO)
        }
    }

    /// Kills this process with SIGKILL when a rule `kill-MOMENT-OPERATION:PART` matches `path`
    /// (`moment` is `before` or `after`).
    package static func killPoint(_ moment: String, _ operation: String, path: String?) {
        guard !rules.isEmpty, let path else { return }
        let name = "kill-" + moment + "-" + operation
        if rules.contains(where: { $0.operation == name && path.contains($0.pathPart) }) {
            _ = Glibc.kill(getpid(), SIGKILL)
        }
    }

    /// `killPoint` for a rename, matched against `SOURCE -> TARGET`.
    package static func killPoint(_ moment: String, renaming source: String, to target: String) {
        guard !rules.isEmpty else { return }
        killPoint(moment, "rename", path: source + " -> " + target)
    }
}
